import { randomBytes } from 'node:crypto';
import { InletError } from '../../core/errors.ts';
import { joinKey, safeKey } from '../../engine/object-keys.ts';

/** The store's root as an absolute remote path with single slashes and no trailing slash ('/' stays '/'). */
export function normalizeRoot(root: string): string {
  if (!root.startsWith('/')) {
    throw new InletError(
      'INLET_E_JOB_INVALID',
      `the SFTP root must be an absolute folder, got ${JSON.stringify(root)}`,
      {
        details: { path: 'root' },
      },
    );
  }
  return `/${joinKey(root)}`;
}

/** The remote path of a key (or key prefix) under root; refuses keys that would leave it. */
export function remotePath(root: string, key: string): string {
  const relative = joinKey(safeKey(key));
  if (!relative) return root;
  return root === '/' ? `/${relative}` : `${root}/${relative}`;
}

/** The folder holding a remote path. */
export function parentFolder(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

const PART_SUFFIX = '.inlet-part-';

/** A hidden name beside `path` for an upload in progress, unique to this upload. */
export function partPath(path: string): string {
  const folder = parentFolder(path);
  const name = path.slice(folder.length + (folder === '/' ? 0 : 1));
  return `${folder === '/' ? '' : folder}/.${name}${PART_SUFFIX}${randomBytes(6).toString('hex')}`;
}

/** True for a file partPath() named: an upload still running (or abandoned), not an object. */
export function isPartName(name: string): boolean {
  return /^\..+\.inlet-part-[0-9a-f]{12}$/.test(name);
}
