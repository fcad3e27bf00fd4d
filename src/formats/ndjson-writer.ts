import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** Lines are gathered into writes of about this many characters: one syscall per line is slow. */
const BATCH_CHARS = 64 * 1024;

/** Writes one JSON object per line to a file, with backpressure. Made by {@link createNdjsonWriter}. */
export interface NdjsonWriter {
  /** Queues one record. Call {@link NdjsonWriter.flush} between input chunks to bound memory. */
  write(record: unknown): void;
  /** Waits until the file has caught up with what was written so far. */
  flush(signal?: AbortSignal): Promise<void>;
  /** Writes what is left, closes the file and returns the number of records written. */
  close(): Promise<number>;
  /** Destroys the stream and removes the partial file. */
  discard(): Promise<void>;
}

/** Opens `path` (truncating it) for NDJSON output. */
export function createNdjsonWriter(path: string): NdjsonWriter {
  const stream = createWriteStream(path);
  // Errors are read from stream.errored when waiting; a listener keeps them from being unhandled.
  stream.on('error', () => {});
  let pending: string[] = [];
  let pendingChars = 0;
  let records = 0;
  let behind = false;

  const push = (): void => {
    if (pending.length === 0) return;
    if (!stream.write(pending.join(''))) behind = true;
    pending = [];
    pendingChars = 0;
  };

  return {
    write(record) {
      const line = `${JSON.stringify(record)}\n`;
      pending.push(line);
      pendingChars += line.length;
      records += 1;
      if (pendingChars >= BATCH_CHARS) push();
    },
    async flush(signal) {
      if (stream.errored) throw stream.errored;
      if (!behind) return;
      behind = false;
      await drained(stream, signal);
    },
    async close() {
      push();
      stream.end();
      await finished(stream);
      return records;
    },
    async discard() {
      stream.destroy();
      await finished(stream).catch(() => {});
      await rm(path, { force: true });
    },
  };
}

function drained(stream: WriteStream, signal: AbortSignal | undefined): Promise<void> {
  if (stream.errored) return Promise.reject(stream.errored);
  if (!stream.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: unknown): void => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = (): void => done();
    const onError = (error: Error): void => done(error);
    const onClose = (): void => done(stream.errored ?? new Error('output closed while writing'));
    const onAbort = (): void => done(signal?.reason);
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * How a decoder gives up: stops reading, removes its partial output, and rethrows the
 * abort reason when the run was cancelled (else the error itself).
 */
export async function abandonConversion(
  input: Readable,
  writer: NdjsonWriter,
  error: unknown,
  signal?: AbortSignal,
): Promise<never> {
  input.destroy();
  await writer.discard();
  if (signal?.aborted) throw signal.reason;
  throw error;
}
