import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { InletError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';

/** Where an SFTP server is and how to sign in. */
export interface SftpConnectOptions {
  host: string;
  port: number;
  username: string;
  password?: string;
  /** PEM or OpenSSH private key text. */
  privateKey?: string;
  passphrase?: string;
  /** The server's pinned host key fingerprint as `ssh-keygen -lf` prints it: "SHA256:<base64>". */
  hostKey?: string;
  connectTimeoutMs?: number;
}

/** One live SFTP session, and a signal that fires once it is gone. */
export interface SftpSession {
  client: SftpClient;
  /** ssh2's SFTP channel, for the pipelined reads the client library does not offer. */
  sftp: SFTPWrapper;
  lost: AbortSignal;
}

/** A lazily opened SFTP session that is replaced once it drops. */
export interface SftpConnection {
  /** The current session, opening a new one when there is none or the last one dropped. */
  session(): Promise<SftpSession>;
  close(): Promise<void>;
}

interface OpenSession extends SftpSession {
  socket: Socket;
}

const CLOSE_TIMEOUT_MS = 5_000;

/** host:port, with an IPv6 address in brackets as in a URI. */
export function serverName(options: SftpConnectOptions): string {
  return `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
}

/** Base64 of the key's SHA-256 without padding, as OpenSSH shows fingerprints. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function pinnedFingerprint(hostKey: string): string {
  return `SHA256:${hostKey
    .trim()
    .replace(/^SHA256:/, '')
    .replace(/=+$/, '')}`;
}

/** Opens SFTP sessions on demand, one at a time, and tells a dead one from a live one. */
export function createSftpConnection(options: SftpConnectOptions, logger: Logger): SftpConnection {
  const server = serverName(options);
  let current: Promise<OpenSession> | undefined;

  async function open(): Promise<OpenSession> {
    // The library's default event callbacks print to the console; the session's own listeners below do the work.
    const client = new SftpClient('inlet', {
      error: () => undefined,
      end: () => undefined,
      close: () => undefined,
    });
    // ssh2 leaves Nagle's algorithm on, and every SFTP request then waits for the previous
    // packet's delayed ACK: measured on loopback, 20 MiB took 4.6 s to read instead of 0.2 s.
    const socket = connect({ host: options.host, port: options.port, noDelay: true });
    const lost = new AbortController();
    // Every request and open stream listens for the loss.
    setMaxListeners(0, lost.signal);
    let failure: Error | undefined;
    let presentedKey: string | undefined;
    let ready = false;
    const markLost = (reason: Error) => {
      failure ??= reason;
      if (lost.signal.aborted) return;
      lost.abort(reason);
      // A dead SFTP channel can leave the SSH connection itself open; nothing will use it again.
      socket.destroy();
      // Not when close() ended it on purpose (it forgets the session first) or it never opened.
      if (current && ready) logger.warn({ server, error: reason.message }, 'sftp.connection_lost');
    };
    client.on('error', (error: Error) => markLost(error));
    client.on('end', () => markLost(new Error('the server ended the session')));
    client.on('close', () => markLost(new Error('the connection closed')));

    const config: ConnectConfig = {
      sock: socket,
      host: options.host,
      port: options.port,
      username: options.username,
      password: options.password,
      privateKey: options.privateKey,
      passphrase: options.passphrase,
      readyTimeout: options.connectTimeoutMs ?? 20_000,
      // A peer that vanished without closing the socket is noticed within a minute, not never.
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
    };
    if (options.hostKey) {
      const pinned = pinnedFingerprint(options.hostKey);
      config.hostVerifier = (key: Buffer) => {
        presentedKey = fingerprintOf(key);
        return presentedKey === pinned;
      };
    }
    let sftp: SFTPWrapper;
    try {
      sftp = await client.connect(config);
      // The SFTP channel can close while the SSH connection stays up.
      sftp.on('close', () => markLost(new Error('the SFTP channel closed')));
    } catch (error) {
      // ssh2 may fail (a key it cannot parse) before it takes charge of the socket.
      socket.destroy();
      throw connectError(failure ?? error, options, presentedKey);
    }
    ready = true;
    logger.info({ server, user: options.username }, 'sftp.connected');
    return { client, sftp, lost: lost.signal, socket };
  }

  async function session(): Promise<OpenSession> {
    const known = current;
    if (known) {
      const live = await known.catch(() => undefined);
      if (live && !live.lost.aborted) return live;
      // Another caller noticed first and is already opening the next one.
      if (current !== known) return session();
    }
    const opening = open();
    current = opening;
    opening.catch(() => {
      if (current === opening) current = undefined;
    });
    return opening;
  }

  return {
    session,
    async close() {
      const closing = current;
      current = undefined;
      const session = await closing?.catch(() => undefined);
      if (!session || session.lost.aborted) return;
      // A server that stopped answering would otherwise hold close() until the keepalive gives up.
      const timer = setTimeout(() => session.socket.destroy(), CLOSE_TIMEOUT_MS);
      await session.client.end().catch(() => undefined);
      clearTimeout(timer);
      logger.info({ server }, 'sftp.closed');
    },
  };
}

/**
 * Explains a failed connect. Credentials and host keys are the user's to fix (auth); a refused,
 * reset or timed-out connection may work on the next attempt (transient).
 */
function connectError(
  error: unknown,
  options: SftpConnectOptions,
  presentedKey: string | undefined,
): InletError {
  const server = serverName(options);
  const reason = error instanceof Error ? error.message : String(error);
  const level = (error as { level?: unknown } | null)?.level;
  if (options.hostKey && presentedKey && presentedKey !== pinnedFingerprint(options.hostKey)) {
    return new InletError(
      'INLET_E_REMOTE_AUTH',
      `the host key of ${server} is ${presentedKey}, not the pinned ${pinnedFingerprint(options.hostKey)}`,
      { details: { server, host_key: presentedKey } },
    );
  }
  const details = { server, user: options.username };
  if (level === 'client-authentication') {
    return new InletError(
      'INLET_E_REMOTE_AUTH',
      `the SFTP server rejected the login of ${options.username}@${server} (${reason})`,
      { cause: error, details },
    );
  }
  // ssh2 parses the key before it connects; its message is about the key, never its text.
  if (/privateKey|passphrase|private key/i.test(reason)) {
    return new InletError(
      'INLET_E_REMOTE_AUTH',
      `the private key for ${options.username}@${server} cannot be used (${reason})`,
      { cause: error, details },
    );
  }
  return new InletError('INLET_E_REMOTE', `could not connect to the SFTP server ${server} (${reason})`, {
    cause: error,
    details: { server },
  });
}
