import { z } from 'zod';
import { CONNECTORS } from '../../connectors/registry.ts';
import type { Output } from '../output.ts';

/** `inlet connectors`: every connector, with its config JSON Schema in --json. */
export function connectorsCommand(json: boolean, output: Output): number {
  if (json) {
    const list = CONNECTORS.map((c) => ({
      kind: c.kind,
      type: c.type,
      summary: c.summary,
      schema: z.toJSONSchema(c.config, { target: 'draft-7', io: 'input', unrepresentable: 'any' }),
    }));
    output.out(JSON.stringify(list, null, 2));
  } else {
    for (const c of CONNECTORS) output.out(`${c.kind.padEnd(7)} ${c.type.padEnd(12)} ${c.summary}`);
  }
  return 0;
}
