import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { InletError } from '../../core/errors.ts';
import {
  decryptStream,
  ENCRYPTED_SUFFIX,
  type FileKey,
  fileKeyFromEnvironment,
  parseFileKey,
} from '../../engine/file-crypto.ts';
import type { Output } from '../output.ts';

export interface DecryptArgs {
  file: string;
  /** Where the plain file goes; default: the name without .enc. */
  out?: string;
  /** Key files to try (older keys after a rotation); the environment's key is tried too. */
  keyFiles: string[];
}

/** `inlet decrypt`: restores a file inlet encrypted (an archive), choosing the key by the id it records. */
export async function decryptCommand(args: DecryptArgs, output: Output): Promise<number> {
  const keys: FileKey[] = args.keyFiles.map((path) =>
    parseFileKey(readFileSync(path, 'utf8'), `the key file ${path}`),
  );
  const fromEnvironment = fileKeyFromEnvironment();
  if (fromEnvironment) keys.push(fromEnvironment);
  if (!keys.length) {
    throw new InletError(
      'INLET_E_ENCRYPTION',
      'no key: set INLET_ENCRYPTION_KEY or INLET_ENCRYPTION_KEY_FILE, or pass --key-file',
    );
  }
  const target =
    args.out ??
    (args.file.endsWith(ENCRYPTED_SUFFIX)
      ? args.file.slice(0, -ENCRYPTED_SUFFIX.length)
      : `${args.file}.plain`);
  // Decrypted beside the target and renamed only once every chunk authenticated.
  const partial = `${target}.inlet-part`;
  try {
    await pipeline(
      createReadStream(args.file),
      decryptStream(keys),
      createWriteStream(partial, { mode: 0o600 }),
    );
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InletError('INLET_E_USAGE', `${args.file} does not exist`);
    }
    throw error;
  }
  output.out(`decrypted ${args.file} → ${target}`);
  return 0;
}
