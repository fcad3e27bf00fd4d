import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import type { ConnectorContext, Sink, SinkSpec, SqlSession, StagedOutput } from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import {
  filesUnder,
  fsyncPath,
  isRunOutput,
  outputFileOptions,
  STAGING_FOLDER,
  writeUnitFiles,
} from '../../engine/output-files.ts';

const fileSinkSchema = z
  .object({
    type: z.literal('file'),
    path: z.string().min(1).describe('Output folder, relative to the job file.'),
    ...outputFileOptions,
  })
  .strict()
  .describe(
    'Files in a local folder. Outputs appear atomically: staged under .inlet-tmp, fsynced, then renamed.',
  );

type FileSinkConfig = z.output<typeof fileSinkSchema>;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Removes empty folders under (not including) root, deepest first. */
async function pruneEmptyDirs(dir: string, root: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) await pruneEmptyDirs(join(dir, entry.name), root);
  }
  if (dir !== root) await rmdir(dir).catch(() => undefined);
}

function createFileSink(config: FileSinkConfig, context: ConnectorContext): Sink {
  const root = resolve(context.baseDir, config.path);
  const stagingDir = (runId: string) => join(root, STAGING_FOLDER, runId);

  return {
    guarantee: 'atomic',
    writeDirectories: [root],
    rebuildsEachRun: config.mode === 'overwrite',

    async stage(session: SqlSession, input, sinkIndex): Promise<StagedOutput> {
      const staging = join(stagingDir(input.runId), input.unitKey);
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true });
      const { rows, files } = await writeUnitFiles(session, input, config, staging, {
        sinkPath: `sinks[${sinkIndex}]`,
        location: root,
      });
      const moves = files.map((file) => ({ from: join(staging, file), to: join(root, file) }));
      return { sink: sinkIndex, rows, moves };
    },

    async commit(staged: StagedOutput): Promise<void> {
      for (const { from, to } of staged.moves) {
        if (await exists(from)) {
          await mkdir(dirname(to), { recursive: true });
          await rename(from, to);
          await fsyncPath(dirname(to));
        } else if (!(await exists(to))) {
          throw new InletError('INLET_E_SINK', `staged file ${from} is gone and ${to} was never written`);
        }
      }
    },

    async finishRun(runId: string): Promise<void> {
      if (config.mode === 'overwrite') {
        for await (const file of filesUnder(root)) {
          const rel = relative(root, file);
          if (rel.startsWith(STAGING_FOLDER)) continue;
          if (!isRunOutput(file.slice(dirname(file).length + 1), runId)) await rm(file);
        }
      }
      await rm(stagingDir(runId), { recursive: true, force: true });
      await pruneEmptyDirs(root, root);
    },

    async discardStaging(runId: string): Promise<void> {
      await rm(stagingDir(runId), { recursive: true, force: true });
      await rmdir(join(root, STAGING_FOLDER)).catch(() => undefined);
    },
  };
}

export const fileSink: SinkSpec<typeof fileSinkSchema> = {
  kind: 'sink',
  type: 'file',
  summary: 'Parquet, CSV or NDJSON files in a local folder, optionally Hive-partitioned; atomic per unit.',
  config: fileSinkSchema,
  create: createFileSink,
};
