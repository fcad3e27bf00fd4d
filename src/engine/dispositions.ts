import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { UnitCandidate, UnitOrigin } from '../core/connector.ts';
import type { Logger } from '../core/logger.ts';
import type { ObjectStore } from '../core/object-store.ts';
import { ENCRYPTED_SUFFIX, encryptStream, type FileKey } from './file-crypto.ts';
import { baseName, folderPrefix, joinKey } from './object-keys.ts';

/** Where a unit's original goes after it committed (`on_success.archive`). */
export interface ArchivePlan {
  store: ObjectStore;
  /** Archive folder as a key prefix of `store`. */
  folder: string;
  /** True when `store` is the source's own store, so a plain archive can be a rename. */
  sameStore: boolean;
  compress: boolean;
  /** Encrypt with this key (AES-256-GCM) when set. */
  encryptWith: FileKey | null;
  lifecycle?: LifecycleRule;
}

/** Archives older than `afterDays` are deleted, or moved under `moveTo` (a colder prefix). */
export interface LifecycleRule {
  afterDays: number;
  moveTo: string | null;
}

/** Where a failed unit's original is put aside (`on_failure.move_to`), with an error report. */
export interface MoveAsidePlan {
  store: ObjectStore;
  folder: string;
  sameStore: boolean;
}

export interface UnitDispositions {
  onSuccess?: ArchivePlan;
  onFailure?: MoveAsidePlan;
}

/**
 * The first key under `folder` for `relative` that no earlier archive holds: the name itself,
 * then name.v2.ext, name.v3.ext… (the version goes before the first extension, so tools
 * still recognise the file type). An archive is never overwritten.
 */
export async function nextVersionKey(store: ObjectStore, folder: string, relative: string): Promise<string> {
  const name = baseName(relative);
  const dir = joinKey(folder, relative.slice(0, relative.length - name.length));
  const dot = name.indexOf('.', 1);
  const stem = dot === -1 ? name : name.slice(0, dot);
  const ext = dot === -1 ? '' : name.slice(dot);
  const taken = new Set((await store.list(joinKey(dir, stem))).map((o) => o.key));
  const prefix = folderPrefix(dir);
  for (let version = 1; ; version++) {
    const candidate = `${prefix}${version === 1 ? name : `${stem}.v${version}${ext}`}`;
    const clash = [...taken].some((key) => key === candidate || key.startsWith(`${candidate}.`));
    if (!clash) return candidate;
  }
}

/** Copies the original through gzip/encryption into the target store, then deletes it. */
async function transfer(
  origin: UnitOrigin,
  sourceKey: string,
  target: ObjectStore,
  targetKey: string,
  options: { compress: boolean; encryptWith: FileKey | null; metadata: Record<string, string> },
): Promise<void> {
  let body: Readable = await origin.store.read(sourceKey);
  if (options.compress) body = body.pipe(createGzip());
  if (options.encryptWith) body = body.pipe(encryptStream(options.encryptWith));
  await target.write(targetKey, body, { metadata: options.metadata });
  await origin.store.delete(sourceKey);
}

/**
 * Moves a committed unit's original to the archive under a new version, compressed and
 * encrypted as configured; returns the archive's URI. Within one store and untransformed
 * it is a rename; otherwise copy then delete, so a crash in between leaves the original in
 * place and the next run archives it again (a second version, never a lost file).
 */
export async function archiveUnit(
  origin: UnitOrigin,
  unit: UnitCandidate,
  plan: ArchivePlan,
  facts: { runId: string; contentHash: string | null },
): Promise<string> {
  const sourceKey = origin.keyOf(unit);
  let relative = origin.relativeKeyOf(unit);
  if (plan.compress) relative += '.gz';
  if (plan.encryptWith) relative += ENCRYPTED_SUFFIX;
  const targetKey = await nextVersionKey(plan.store, plan.folder, relative);
  if (plan.sameStore && !plan.compress && !plan.encryptWith) {
    await origin.store.move(sourceKey, targetKey);
  } else {
    await transfer(origin, sourceKey, plan.store, targetKey, {
      compress: plan.compress,
      encryptWith: plan.encryptWith,
      metadata: {
        'inlet-source': unit.uri,
        'inlet-run-id': facts.runId,
        ...(facts.contentHash ? { 'inlet-sha256': facts.contentHash } : {}),
        ...(plan.encryptWith ? { 'inlet-key-id': plan.encryptWith.id } : {}),
      },
    });
  }
  return plan.store.uri(targetKey);
}

/** Puts a failed unit's original aside with `<name>.error.json` next to it; returns where it went. */
export async function moveUnitAside(
  origin: UnitOrigin,
  unit: UnitCandidate,
  plan: MoveAsidePlan,
  report: Record<string, unknown>,
): Promise<string> {
  const sourceKey = origin.keyOf(unit);
  const targetKey = await nextVersionKey(plan.store, plan.folder, origin.relativeKeyOf(unit));
  const json = Buffer.from(`${JSON.stringify({ ...report, uri: unit.uri, size: unit.size }, null, 2)}\n`);
  // The report first: a file found in the failed folder always has its reason beside it.
  await plan.store.write(`${targetKey}.error.json`, Readable.from([json]));
  if (plan.sameStore) await origin.store.move(sourceKey, targetKey);
  else
    await transfer(origin, sourceKey, plan.store, targetKey, {
      compress: false,
      encryptWith: null,
      metadata: {},
    });
  return plan.store.uri(targetKey);
}

/**
 * Applies an archive's lifecycle rule: archives last modified more than `afterDays` ago are
 * deleted or moved under the colder prefix. Returns how many were handled.
 */
export async function applyLifecycle(
  plan: ArchivePlan & { lifecycle: LifecycleRule },
  logger: Logger,
  now = Date.now(),
): Promise<number> {
  const { afterDays, moveTo } = plan.lifecycle;
  const cutoff = now - afterDays * 86_400_000;
  const folder = folderPrefix(plan.folder);
  let handled = 0;
  for (const object of await plan.store.list(folder)) {
    if (object.mtimeMs >= cutoff) continue;
    if (moveTo) {
      const target = joinKey(moveTo, object.key.slice(folder.length));
      await plan.store.move(object.key, target);
      logger.info(
        { archive: plan.store.uri(object.key), moved_to: plan.store.uri(target) },
        'archive.expired',
      );
    } else {
      await plan.store.delete(object.key);
      logger.info({ archive: plan.store.uri(object.key), deleted: true }, 'archive.expired');
    }
    handled += 1;
  }
  return handled;
}
