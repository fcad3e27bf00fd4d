import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InletError, toInletError } from '../core/errors.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { connectorsCommand } from './commands/connectors.ts';
import { decryptCommand } from './commands/decrypt.ts';
import { housekeepCommand } from './commands/housekeep.ts';
import { quarantineCommand } from './commands/quarantine.ts';
import { runCommand } from './commands/run.ts';
import { runsCommand } from './commands/runs.ts';
import { schemaCommand } from './commands/schema.ts';
import { serveCommand } from './commands/serve.ts';
import { validateCommand } from './commands/validate.ts';
import { readConfig } from './config.ts';
import { type Output, processOutput } from './output.ts';

const USAGE = `usage: inlet <command>

  serve [--jobs DIR]             the REST API (INLET_HOST, INLET_PORT); --jobs loads every job.yaml under DIR
  run <job.yaml> [--set path=value]... [--json] [--reprocess]
                                 run a job once (exit 0 ok, 1 run failed, 2 bad job or usage)
  validate <job.yaml>            check a job file; problems are named by YAML path and line
  connectors [--json]            list sources and sinks (with their JSON Schemas in --json)
  schema                         print the job JSON Schema (draft-07) for editors
  runs [list] [--job NAME] [--json]
  runs show <run_id> [--json]    a run with its units
  runs report <run_id> [--json]  reconciliation per file: read, sent, succeeded, updated, failed by code (CSV)
  quarantine <run_id> [--json]   the rejected records of a run, with their reasons
  decrypt <file.enc> [-o OUT] [--key-file K]...
                                 restore an encrypted archive (key: INLET_ENCRYPTION_KEY[_FILE] or --key-file)
  housekeep <job.yaml>           apply the job's archive lifecycle rule now

environment: INLET_DATA_DIR (default ./.inlet), INLET_LOG_LEVEL, INLET_MEMORY_LIMIT (default 512MB), INLET_THREADS,
             INLET_HOST (default 127.0.0.1), INLET_PORT (default 8080), INLET_ADMIN_KEY, INLET_WORKSPACE (default .)`;

function usage(message: string): never {
  throw new InletError('INLET_E_USAGE', `${message}\n\n${USAGE}`);
}

/** Runs the inlet command line and returns the exit code. */
export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  const config = readConfig();
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        set: { type: 'string', multiple: true, default: [] },
        json: { type: 'boolean', default: false },
        reprocess: { type: 'boolean', default: false },
        job: { type: 'string' },
        jobs: { type: 'string' },
        out: { type: 'string', short: 'o' },
        'key-file': { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const [command, ...rest] = positionals;
    if (values.help || !command) {
      output.out(USAGE);
      return command || values.help ? 0 : 2;
    }
    const withStore = async (work: (store: SqliteStore) => Promise<number>) => {
      const store = new SqliteStore(join(config.dataDir, 'inlet.db'));
      try {
        return await work(store);
      } finally {
        await store.close();
      }
    };
    switch (command) {
      case 'serve':
        if (rest.length) usage('serve takes no arguments');
        return await serveCommand({ jobsDir: values.jobs }, config, output);
      case 'run':
        if (rest.length !== 1) usage('run takes one job file');
        return await runCommand(
          { jobFile: rest[0], overrides: values.set, json: values.json, reprocess: values.reprocess },
          config,
          output,
        );
      case 'validate':
        if (rest.length !== 1) usage('validate takes one job file');
        return await withStore((store) => validateCommand(rest[0], store, config, output));
      case 'connectors':
        return connectorsCommand(values.json, output);
      case 'schema':
        return schemaCommand(output);
      case 'runs': {
        const [sub = 'list', runId] = rest;
        if (sub === 'show' && runId)
          return await withStore((store) => runsCommand(store, { show: runId, json: values.json }, output));
        if (sub === 'report' && runId)
          return await withStore((store) => runsCommand(store, { report: runId, json: values.json }, output));
        if (sub === 'list')
          return await withStore((store) =>
            runsCommand(store, { json: values.json, job: values.job }, output),
          );
        return usage('runs takes list, show <run_id> or report <run_id>');
      }
      case 'quarantine':
        if (rest.length !== 1) usage('quarantine takes one run id');
        return await withStore((store) =>
          quarantineCommand(store, config.dataDir, { runId: rest[0], json: values.json }, output),
        );
      case 'decrypt':
        if (rest.length !== 1) usage('decrypt takes one file');
        return await decryptCommand({ file: rest[0], out: values.out, keyFiles: values['key-file'] }, output);
      case 'housekeep':
        if (rest.length !== 1) usage('housekeep takes one job file');
        return await housekeepCommand(rest[0], config, output);
      default:
        return usage(`unknown command "${command}"`);
    }
  } catch (error) {
    return reportError(error, output);
  }
}

function reportError(error: unknown, output: Output): number {
  const failure =
    error instanceof InletError
      ? error
      : (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
          (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
        ? new InletError('INLET_E_USAGE', `${(error as Error).message}\n\n${USAGE}`)
        : toInletError(error);
  output.err(`inlet: ${failure.message} [${failure.code}]`);
  if (failure.kind === 'internal' && failure.cause instanceof Error) output.err(failure.cause.stack ?? '');
  return failure.kind === 'config' ? 2 : 1;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
