import { randomBytes } from 'node:crypto';

/** A run id that sorts by start time and reads well: 20261122T163055Z-3f9a1c. */
export function newRunId(at = new Date()): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}
