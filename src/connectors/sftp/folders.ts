import type SftpClient from 'ssh2-sftp-client';
import { InletError } from '../../core/errors.ts';
import type { ObjectInfo } from '../../core/object-store.ts';
import { isPartName, parentFolder } from './paths.ts';

/** One folder's regular files, as objects, and its sub-folders, as key prefixes ending in '/'. */
export interface FolderListing {
  files: ObjectInfo[];
  folders: string[];
}

/** Reads one remote folder whose key prefix is `prefix` ('' for the root, else ending in '/'). */
export async function readFolder(client: SftpClient, path: string, prefix: string): Promise<FolderListing> {
  const listing: FolderListing = { files: [], folders: [] };
  for (const entry of await client.list(path)) {
    if (entry.name === '.' || entry.name === '..') continue;
    // Symbolic links are neither followed nor listed: they can point outside the root or in a circle.
    if (entry.type === 'd') listing.folders.push(`${prefix}${entry.name}/`);
    else if (entry.type === '-' && !isPartName(entry.name)) {
      listing.files.push({
        key: prefix + entry.name,
        size: entry.size,
        mtimeMs: entry.modifyTime,
        metadata: {},
      });
    }
  }
  return listing;
}

/** Creates a remote folder and its missing parents; a folder another writer creates meanwhile is fine. */
export async function ensureFolder(client: SftpClient, path: string): Promise<void> {
  const kind = await client.exists(path);
  // A link is taken to be a link to a folder; if it is not, the upload into it says so.
  if (kind === 'd' || kind === 'l') return;
  if (kind) {
    throw new InletError('INLET_E_REMOTE_REFUSED', `${path} is a file on the SFTP server, not a folder`, {
      details: { path },
    });
  }
  if (path !== '/') await ensureFolder(client, parentFolder(path));
  try {
    await client.mkdir(path, false);
  } catch (error) {
    if ((await client.exists(path)) !== 'd') throw error;
  }
}
