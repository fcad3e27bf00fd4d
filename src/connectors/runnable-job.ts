import type { ConnectorContext, SharedState, Source } from '../core/connector.ts';
import { InletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { redactSecrets } from '../core/redact.ts';
import type { UnitDispositions } from '../engine/dispositions.ts';
import { fileKeyFromEnvironment } from '../engine/file-crypto.ts';
import { createWebhookReporter } from '../engine/reporting.ts';
import type { RunnableJob } from '../engine/run-job.ts';
import { createSinks, createSource, type JobSpec, STORES } from './registry.ts';

/** Creates a job's connectors from its validated spec: what `inlet run` and the API both execute. */
export function createRunnableJob(
  spec: JobSpec,
  baseDir: string,
  logger: Logger,
  shared?: SharedState,
): RunnableJob {
  const context: ConnectorContext = {
    baseDir,
    logger,
    shared,
    jobName: spec.name,
    allowPrivateNetworks: process.env.INLET_ALLOW_PRIVATE_NETWORKS === 'true',
  };
  const source = createSource(spec.source as { type: string }, context);
  if (spec.segregate && !source.origin) {
    throw new InletError(
      'INLET_E_JOB_INVALID',
      'segregate needs a source of files (file, sftp, s3, azure_blob)',
    );
  }
  return {
    name: spec.name,
    source,
    sinks: createSinks(spec, context),
    transforms: spec.transforms,
    baseDir,
    recordedSpec: redactSecrets(spec),
    dispositions: createDispositions(spec, source, context),
    segregate: spec.segregate,
    reporter: spec.reporting
      ? createWebhookReporter(spec.reporting.webhook, {
          allowPrivateNetworks: context.allowPrivateNetworks ?? false,
          logger,
        })
      : undefined,
  };
}

type Target = { path: string; store?: unknown };

/** Opens the store a target names (or the source's own) and its folder as a key prefix. */
function openTarget(target: Target, source: Source, context: ConnectorContext, where: string) {
  const origin = source.origin;
  if (!origin) {
    throw new InletError(
      'INLET_E_JOB_INVALID',
      `${where}: the source's units are not files, so they cannot be moved`,
    );
  }
  if (!target.store) {
    return { store: origin.store, sameStore: true, folderKey: (path: string) => origin.folderKey(path) };
  }
  const config = target.store as { type: string };
  const spec = STORES.find((s) => s.type === config.type)!;
  return {
    store: spec.create(config, context),
    sameStore: false,
    folderKey: (path: string) => spec.folderKey(path, context),
  };
}

/** The archive and move-aside plans of a job, with stores opened and the encryption key loaded. */
function createDispositions(spec: JobSpec, source: Source, context: ConnectorContext): UnitDispositions {
  const dispositions: UnitDispositions = {};
  const archive = spec.on_success?.archive;
  if (archive) {
    const encryptWith = archive.encrypt ? fileKeyFromEnvironment() : null;
    if (archive.encrypt && !encryptWith) {
      throw new InletError(
        'INLET_E_ENCRYPTION',
        'on_success.archive.encrypt needs a key: set INLET_ENCRYPTION_KEY (32 bytes, base64) or INLET_ENCRYPTION_KEY_FILE',
      );
    }
    const { store, sameStore, folderKey } = openTarget(archive, source, context, 'on_success.archive');
    const { lifecycle } = archive;
    dispositions.onSuccess = {
      store,
      sameStore,
      folder: folderKey(archive.path),
      compress: archive.compress,
      encryptWith,
      ...(lifecycle && {
        lifecycle: {
          afterDays: lifecycle.after_days,
          moveTo: lifecycle.move_to ? folderKey(lifecycle.move_to) : null,
        },
      }),
    };
  }
  const moveTo = spec.on_failure?.move_to;
  if (moveTo) {
    const { store, sameStore, folderKey } = openTarget(moveTo, source, context, 'on_failure.move_to');
    dispositions.onFailure = { store, sameStore, folder: folderKey(moveTo.path) };
  }
  return dispositions;
}
