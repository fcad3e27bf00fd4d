import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type SftpClient from 'ssh2-sftp-client';

// ssh2 reads one request at a time, so each round trip should carry as much as the server allows
// (OpenSSH: 255 KiB); the default 64 KiB makes a download about three times slower.
const READ_AHEAD = 1024 * 1024;
// Chunks buffered while a write is in flight go out together as parallel requests.
const WRITE_BUFFER = 4 * 1024 * 1024;

/** Opens a remote file at `start`; resolves once the server has opened it, so a missing file fails here. */
export function openReadStream(client: SftpClient, path: string, start: number): Promise<Readable> {
  const stream = client.createReadStream(path, { start, highWaterMark: READ_AHEAD });
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    stream.once('error', failed);
    stream.once('open', () => {
      stream.off('error', failed);
      resolve(stream);
    });
  });
}

/**
 * Relays a remote read stream, mapping its errors. It fails at once when the session is lost:
 * ssh2 answers requests already sent with an error, but a read asked for later, on a dead
 * session, would wait forever.
 */
export function relay(source: Readable, lost: AbortSignal, fail: (error: unknown) => Error): Readable {
  const out = new PassThrough({ highWaterMark: READ_AHEAD });
  const onLost = () => out.destroy(fail(lost.reason));
  const release = () => lost.removeEventListener('abort', onLost);
  lost.addEventListener('abort', onLost, { once: true });
  // Once everything arrived, a later drop (while the reader drains the buffer) is no failure.
  source.once('end', release);
  // Stays attached: ssh2 closes the handle after 'end' and reports a failed close as a late error.
  source.on('error', (error) => {
    release();
    out.destroy(fail(error));
  });
  out.once('close', () => {
    release();
    // Closing a handle on a dead session is never answered; leave that stream to the collector.
    if (!lost.aborted && !source.destroyed) source.destroy();
  });
  source.pipe(out);
  if (lost.aborted) onLost();
  return out;
}

/** Streams `body` into a new remote file; resolves once the server has closed the file. */
export async function upload(
  client: SftpClient,
  body: Readable,
  path: string,
  signal?: AbortSignal,
): Promise<void> {
  const target = client.createWriteStream(path, { flags: 'w', highWaterMark: WRITE_BUFFER });
  const closed = new Promise<void>((resolve, reject) => {
    target.once('close', resolve);
    target.on('error', reject);
  });
  closed.catch(() => undefined);
  await pipeline(body, target, { signal });
  await closed;
}
