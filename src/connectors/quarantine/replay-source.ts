import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LandedUnit, Source, UnitCandidate } from '../../core/connector.ts';
import type { QuarantinedRecord } from '../../engine/quarantine-reader.ts';

/** Records whose `record` is a JSON object can go through the transforms again; raw lines that never parsed cannot. */
export function replayable(record: QuarantinedRecord): boolean {
  if (!record.record) return false;
  try {
    const value = JSON.parse(record.record);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

/**
 * A source over a finished run's quarantine: one unit per original unit, holding its
 * replayable records as NDJSON. Unit identities derive from the run and the content, so
 * the ledger refuses to replay the same records twice.
 */
export function createReplaySource(runId: string, records: QuarantinedRecord[]): Source {
  const byUnit = new Map<string, string>();
  for (const record of records.filter(replayable)) {
    byUnit.set(record.unit, `${byUnit.get(record.unit) ?? ''}${record.record}\n`);
  }
  const uriOf = (unit: string) => `quarantine://${runId}/${encodeURIComponent(unit)}`;
  const textOf = new Map([...byUnit].map(([unit, text]) => [uriOf(unit), text]));
  return {
    format: { type: 'ndjson' },
    readDirectories: [],
    async list(): Promise<UnitCandidate[]> {
      return [...textOf].map(([uri, text]) => ({ uri, size: Buffer.byteLength(text), mtimeMs: 0 }));
    },
    async land(unit, spoolDir): Promise<LandedUnit> {
      const text = textOf.get(unit.uri) ?? '';
      const localPath = join(
        spoolDir,
        `replay-${createHash('sha256').update(unit.uri).digest('hex').slice(0, 16)}.ndjson`,
      );
      await writeFile(localPath, text);
      return {
        ...unit,
        localPath,
        contentHash: Promise.resolve(createHash('sha256').update(text).digest('hex')),
      };
    },
    async verifyUnchanged(): Promise<void> {},
  };
}
