import { InletError } from '../core/errors.ts';

/**
 * Returns the key when it stays inside its store's root, and refuses it otherwise: remote
 * names come from servers and uploads, so `../` segments, absolute paths, backslashes and
 * NUL bytes are treated as attacks, not normalized away.
 */
export function safeKey(key: string): string {
  if (!isSafeKey(key)) {
    throw new InletError(
      'INLET_E_UNSAFE_NAME',
      `refused the object name ${JSON.stringify(key)}: it would escape its folder`,
      { details: { key } },
    );
  }
  return key;
}

/** True when the key stays inside its store's root (see safeKey). */
export function isSafeKey(key: string): boolean {
  return !(
    key.startsWith('/') ||
    /^[A-Za-z]:/.test(key) ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((segment) => segment === '..' || segment === '.')
  );
}

/** Joins key parts with single slashes, dropping empty parts: joinKey('a/', '/b', 'c') = 'a/b/c'. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((part) => part.split('/'))
    .filter(Boolean)
    .join('/');
}

/** The last segment of a key. */
export function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** A folder-like prefix with exactly one trailing slash, or '' for the root. */
export function folderPrefix(path: string): string {
  const joined = joinKey(path);
  return joined ? `${joined}/` : '';
}
