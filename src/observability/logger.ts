import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import pino from 'pino';
import type { Logger } from '../core/logger.ts';
import { SECRET_KEYS } from '../core/redact.ts';

export interface LoggerOptions {
  level: string;
  /** Also append every event to this NDJSON file (a run's own log). */
  file?: string;
  /** Where events go besides the file; defaults to stderr so stdout stays for command output. */
  destination?: NodeJS.WritableStream;
}

/** Where a run's own log is kept: `<data dir>/logs/<run_id>.ndjson`, one event a line. */
export function runLogPath(dataDir: string, runId: string): string {
  return join(dataDir, 'logs', `${runId}.ndjson`);
}

export interface ClosableLogger {
  logger: Logger;
  /** Flushes and closes the log file, if there is one. */
  close(): Promise<void>;
}

/** Creates the JSON logger: one event name per line in `event`, secrets redacted by key. */
export function createLogger(options: LoggerOptions): ClosableLogger {
  const streams: pino.StreamEntry[] = [
    { level: options.level as pino.Level, stream: options.destination ?? process.stderr },
  ];
  let file: WriteStream | undefined;
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    file = createWriteStream(options.file, { flags: 'a' });
    streams.push({ level: 'debug', stream: file });
  }
  const paths = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
  const logger = pino(
    {
      level: 'debug',
      base: undefined,
      messageKey: 'event',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths, censor: '***' },
    },
    pino.multistream(streams),
  ) as unknown as Logger;
  return {
    logger,
    async close() {
      if (!file) return;
      file.end();
      await finished(file);
    },
  };
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' }) as unknown as Logger;
}
