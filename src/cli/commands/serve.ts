import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { buildApp } from '../../api/app.ts';
import { bootstrapAdminKey } from '../../api/auth.ts';
import { RunLauncher } from '../../api/run-launcher.ts';
import { jobSchema } from '../../connectors/registry.ts';
import { InletError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { loadJobFile } from '../../engine/job-file.ts';
import { isAlive } from '../../engine/run-job.ts';
import { SecretBox } from '../../engine/secret-box.ts';
import { Alerter } from '../../observability/alerts.ts';
import { createLogger } from '../../observability/logger.ts';
import { InletMetrics } from '../../observability/metrics.ts';
import { Scheduler } from '../../scheduler/scheduler.ts';
import { SqliteStore } from '../../store/sqlite/sqlite-store.ts';
import type { MetadataStore } from '../../store/store.ts';
import type { InletConfig } from '../config.ts';
import type { Output } from '../output.ts';

/**
 * `inlet serve`: the REST API on the embedded defaults. Stops on SIGTERM or SIGINT: no
 * new requests, running runs are interrupted (a later run of the job resumes them), then
 * the store is closed.
 */
export async function serveCommand(
  args: { jobsDir?: string },
  config: InletConfig,
  output: Output,
): Promise<number> {
  const logLevel = config.logLevel === 'warn' ? 'info' : config.logLevel;
  const { logger } = createLogger({ level: logLevel });
  const store = new SqliteStore(join(config.dataDir, 'inlet.db'));
  const bootstrap = await bootstrapAdminKey(store, process.env.INLET_ADMIN_KEY || undefined);
  if (bootstrap?.generated) output.out(`admin API key (shown once, store it now): ${bootstrap.key}`);
  if (args.jobsDir) await loadJobFiles(store, resolve(args.jobsDir), logger);
  const metrics = new InletMetrics();
  for (const { job, finishedAt } of await store.lastSuccesses())
    metrics.setLastSuccess(job, new Date(finishedAt));
  const alerter = new Alerter({
    store,
    logger,
    smtpUrl: process.env.INLET_SMTP_URL,
    from: process.env.INLET_ALERT_FROM,
    allowPrivateNetworks: process.env.INLET_ALLOW_PRIVATE_NETWORKS === 'true',
  });
  const secrets = SecretBox.fromEnvironment(config.dataDir);
  const launcher = new RunLauncher({
    secrets,
    alerter,
    metrics,
    logLevel,
    store,
    dataDir: config.dataDir,
    workspace: resolve(process.env.INLET_WORKSPACE ?? '.'),
    memoryLimit: config.memoryLimit,
    threads: config.threads,
    logger,
  });
  const app = await buildApp({
    secrets,
    store,
    launcher,
    metrics,
    metricsPublic: process.env.INLET_METRICS_PUBLIC === 'true',
    rateLimitPerMinute: process.env.INLET_RATE_LIMIT ? Number(process.env.INLET_RATE_LIMIT) : undefined,
    tls: await readTls(process.env.INLET_TLS_CERT, process.env.INLET_TLS_KEY),
    dataDir: config.dataDir,
    logger,
  });
  const host = process.env.INLET_HOST ?? '127.0.0.1';
  const port = Number(process.env.INLET_PORT ?? 8080);
  await resumeInterruptedRuns(store, launcher, logger);
  const scheduler = new Scheduler({ store, launcher, logger, alerter });
  scheduler.start();
  const address = await app.listen({ host, port });
  logger.info({ address }, 'service.started');
  output.out(`inlet is listening on ${address} (API docs: ${address}/docs)`);
  const signal = await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]).then(() => 'stop');
  logger.info({ signal }, 'service.stopping');
  await scheduler.stop();
  await app.close();
  await launcher.shutdown();
  await store.close();
  logger.info({}, 'service.stopped');
  return 0;
}

/** Registers each job file under `dir` as a job, making a new version when its text changed. */
async function loadJobFiles(store: MetadataStore, dir: string, logger: Logger): Promise<void> {
  for (const file of (await glob('**/job.yaml', { cwd: dir, absolute: true })).sort()) {
    const { spec, baseDir } = await loadJobFile(file, jobSchema);
    const text = await readFile(file, 'utf8');
    const current = await store.getJob(spec.name);
    if (current?.sourceText === text && current.baseDir === baseDir) continue;
    const version = await store.saveJobVersion(
      spec.name,
      text,
      `inlet serve --jobs ${dirname(file)}`,
      baseDir,
    );
    logger.info({ job: spec.name, version, file }, 'job.loaded');
  }
}

/**
 * A job whose last run was interrupted (the service stopped, or its process died) is run
 * again at start-up: the staged run rolls half-done commits forward and ingests the rest.
 */
async function resumeInterruptedRuns(
  store: MetadataStore,
  launcher: RunLauncher,
  logger: Logger,
): Promise<void> {
  for (const job of await store.listJobs()) {
    const [last] = await store.listRuns({ job: job.jobId, limit: 1 });
    if (!last || !(last.status === 'interrupted' || (last.status === 'running' && !isAlive(last)))) continue;
    try {
      const runId = await launcher.start(
        await launcher.resolveSpec(job.jobId, job.sourceText),
        launcher.baseDirOf(job),
        {
          actor: 'service restart',
        },
      );
      logger.info({ job: job.jobId, interrupted_run: last.runId, run_id: runId }, 'run.resumed');
    } catch (error) {
      logger.error({ job: job.jobId, error: (error as Error).message }, 'run.resume_failed');
    }
  }
}

/** The certificate and key for HTTPS, when both are configured. */
async function readTls(
  certFile: string | undefined,
  keyFile: string | undefined,
): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile)
    throw new InletError('INLET_E_USAGE', 'TLS needs both INLET_TLS_CERT and INLET_TLS_KEY');
  return { cert: await readFile(certFile), key: await readFile(keyFile) };
}
