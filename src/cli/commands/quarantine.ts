import { InletError } from '../../core/errors.ts';
import { readQuarantine } from '../../engine/quarantine-reader.ts';
import type { MetadataStore } from '../../store/store.ts';
import type { Output } from '../output.ts';

/** `inlet quarantine <run_id>`: the rejected records of a run with unit, line, rule and reason. */
export async function quarantineCommand(
  store: MetadataStore,
  dataDir: string,
  args: { runId: string; json: boolean },
  output: Output,
): Promise<number> {
  if (!(await store.getRun(args.runId)))
    throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${args.runId}`);
  const records = await readQuarantine(store, dataDir, args.runId);
  if (args.json) {
    output.out(JSON.stringify({ run_id: args.runId, count: records.length, records }));
    return 0;
  }
  if (!records.length) output.out(`run ${args.runId} quarantined nothing`);
  for (const r of records) {
    output.out(`${r.unit}:${r.line ?? '?'}  [${r.rule}] ${r.reason}\n    ${r.record ?? ''}`);
  }
  return 0;
}
