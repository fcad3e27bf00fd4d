import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
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

/** Creates the JSON logger: one event name per line in `event`, secrets redacted by key. */
export function createLogger(options: LoggerOptions): Logger {
  const streams: pino.StreamEntry[] = [
    { level: options.level as pino.Level, stream: options.destination ?? process.stderr },
  ];
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    streams.push({ level: 'debug', stream: createWriteStream(options.file, { flags: 'a' }) });
  }
  const paths = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
  return pino(
    {
      level: 'debug',
      base: undefined,
      messageKey: 'event',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths, censor: '***' },
    },
    pino.multistream(streams),
  ) as unknown as Logger;
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' }) as unknown as Logger;
}
