import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sink, StagedOutput } from '../core/connector.ts';
import { InletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ObjectStore } from '../core/object-store.ts';
import { baseName, folderPrefix, joinKey } from './object-keys.ts';
import { isRunOutput, type OutputFileConfig, STAGING_FOLDER, writeUnitFiles } from './output-files.ts';
import { withRetry } from './retry.ts';

export interface ObjectSinkOptions {
  store: ObjectStore;
  /** Output folder (key prefix) in the store. */
  folder: string;
  output: OutputFileConfig;
  logger: Logger;
}

/**
 * A sink writing files into any ObjectStore with the local sink's promise: a unit's files
 * are written in the spool, uploaded under `<folder>/.inlet-tmp/<run>/<unit>/`, and moved
 * to their final keys only at commit, from a manifest the ledger holds, so a crash
 * mid-commit is rolled forward and readers never see a half-delivered unit.
 */
export function createObjectSink(options: ObjectSinkOptions): Sink {
  const { store, output, logger } = options;
  const folder = folderPrefix(options.folder);
  const stagingPrefix = (runId: string) => `${folder}${STAGING_FOLDER}/${runId}/`;
  const deleteAll = async (prefix: string) => {
    for (const object of await store.list(prefix)) await store.delete(object.key);
  };

  return {
    guarantee: 'atomic',
    writeDirectories: [],
    rebuildsEachRun: output.mode === 'overwrite',

    async stage(session, input, sinkIndex, signal): Promise<StagedOutput> {
      const local = join(input.spoolDir, 'sink-staging', String(sinkIndex), input.unitKey);
      await rm(local, { recursive: true, force: true });
      await mkdir(local, { recursive: true });
      try {
        const { rows, files } = await writeUnitFiles(session, input, output, local, {
          sinkPath: `sinks[${sinkIndex}]`,
          location: store.location,
        });
        const moves: StagedOutput['moves'] = [];
        for (const file of files) {
          const staged = joinKey(stagingPrefix(input.runId), input.unitKey, file);
          await withRetry(() => store.write(staged, createReadStream(join(local, file)), { signal }), {
            what: `upload ${store.uri(staged)}`,
            logger,
            signal,
          });
          moves.push({ from: staged, to: joinKey(folder, file) });
        }
        return { sink: sinkIndex, rows, moves };
      } finally {
        await rm(local, { recursive: true, force: true });
      }
    },

    async commit(staged): Promise<void> {
      for (const { from, to } of staged.moves) {
        if (await store.stat(from)) await store.move(from, to);
        else if (!(await store.stat(to))) {
          throw new InletError(
            'INLET_E_SINK',
            `staged object ${store.uri(from)} is gone and ${store.uri(to)} was never written`,
          );
        }
      }
    },

    async finishRun(runId): Promise<void> {
      if (output.mode === 'overwrite') {
        for (const object of await store.list(folder)) {
          if (object.key.startsWith(`${folder}${STAGING_FOLDER}/`)) continue;
          if (!isRunOutput(baseName(object.key), runId)) await store.delete(object.key);
        }
      }
      await deleteAll(stagingPrefix(runId));
    },

    async discardStaging(runId): Promise<void> {
      await deleteAll(stagingPrefix(runId));
    },

    close: () => store.close(),
  };
}
