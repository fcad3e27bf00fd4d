import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { ConnectorContext, SinkSpec, SourceSpec, StoreSpec } from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import {
  objectSink,
  objectSinkOptions,
  objectSource,
  objectSourceOptions,
} from '../../engine/object-connector.ts';
import { folderPrefix } from '../../engine/object-keys.ts';
import { createSftpStore } from './object-store.ts';

/** The connection keys of an SFTP server; stable, also what a reusable connection holds. */
const connectionKeys = {
  host: z.string().min(1).describe('Server name or address.'),
  port: z.number().int().min(1).max(65535).default(22),
  username: z.string().min(1),
  password: z.string().optional().describe('Password authentication (secret).'),
  private_key: z.string().optional().describe('Private key text, OpenSSH or PEM (secret); e.g. ${SFTP_KEY}.'),
  private_key_path: z
    .string()
    .optional()
    .describe('Or a file holding the private key, relative to the job file.'),
  passphrase: z.string().optional().describe('Passphrase of an encrypted private key (secret).'),
  host_key: z
    .string()
    .regex(
      /^SHA256:[A-Za-z0-9+/]{43}$/,
      'a fingerprint as ssh-keygen -l prints it: SHA256:<43 base64 characters>',
    )
    .optional()
    .describe("The server's pinned host key fingerprint; the connection is refused when it differs."),
};

// Not strict: a reused connection may carry a sink's folder key, which a store ignores.
const storeConfig = z.object({ type: z.literal('sftp'), ...connectionKeys });
type SftpConnectionConfig = z.output<typeof storeConfig>;

const sftpSourceSchema = z
  .object({
    type: z.literal('sftp'),
    ...connectionKeys,
    path: z
      .string()
      .min(1)
      .describe('The folder files are taken from, as the server shows it, e.g. /landing/sales.'),
    ...objectSourceOptions,
  })
  .strict()
  .describe('Files on an SFTP server (landing zone). Each file is one unit, transferred into the spool.');

const sftpSinkSchema = z
  .object({
    type: z.literal('sftp'),
    ...connectionKeys,
    path: z.string().min(1).describe('Output folder on the server.'),
    ...objectSinkOptions,
  })
  .strict()
  .describe('Parquet, CSV or NDJSON files on an SFTP server; uploaded under .inlet-tmp, renamed at commit.');

function storeOf(config: SftpConnectionConfig, context: ConnectorContext) {
  if (!config.password && !config.private_key && !config.private_key_path) {
    throw new InletError(
      'INLET_E_JOB_INVALID',
      `sftp ${config.host}: give password, private_key or private_key_path`,
    );
  }
  const privateKey =
    config.private_key ??
    (config.private_key_path
      ? readFileSync(resolve(context.baseDir, config.private_key_path), 'utf8')
      : undefined);
  return createSftpStore(
    {
      host: config.host,
      port: config.port,
      username: config.username,
      password: config.password,
      privateKey,
      passphrase: config.passphrase,
      hostKey: config.host_key,
      root: '/',
    },
    context.logger,
  );
}

export const sftpSource: SourceSpec<typeof sftpSourceSchema> = {
  kind: 'source',
  type: 'sftp',
  summary:
    'Files on an SFTP server: password or key auth, pinned host key; settle interval, resumed transfers.',
  config: sftpSourceSchema,
  create: (config, context) => objectSource(storeOf(config, context), config.path, config, context),
};

export const sftpSink: SinkSpec<typeof sftpSinkSchema> = {
  kind: 'sink',
  type: 'sftp',
  summary: 'Parquet, CSV or NDJSON files on an SFTP server, optionally partitioned; atomic per unit.',
  config: sftpSinkSchema,
  create: (config, context) => objectSink(storeOf(config, context), config.path, config, context),
};

export const sftpStore: StoreSpec<typeof storeConfig> = {
  type: 'sftp',
  config: storeConfig,
  create: storeOf,
  folderKey: (path) => folderPrefix(path),
};
