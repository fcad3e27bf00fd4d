import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type SftpClient from 'ssh2-sftp-client';

// ssh2 sends one READ at a time, each at most the buffer size: with the default 64 KiB a download
// makes four times the round trips of OpenSSH's 255 KiB limit, which over a WAN is what counts
// (on loopback, 40 MiB took 0.5 s instead of 0.3 s).
const READ_AHEAD = 1024 * 1024;
// ssh2 sends the chunks buffered while a WRITE is in flight together, as parallel requests.
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
  let complete = false;
  // Once everything arrived, a later drop (while the reader drains the buffer) is no failure.
  source.once('end', () => {
    complete = true;
    release();
  });
  // Stays attached: ssh2 closes the handle after 'end', and a close that fails is a late error
  // that must neither crash the process nor fail a download that is complete.
  source.on('error', (error) => {
    release();
    if (!complete) out.destroy(fail(error));
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
