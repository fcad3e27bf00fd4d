import { InletError } from '../../core/errors.ts';
import type { Column } from './relation.ts';

/** Finds a column by name, or fails naming the step and the columns that do exist. */
export function requireColumn(columns: readonly Column[], name: string, path: string): Column {
  const column = columns.find((c) => c.name === name);
  if (column) return column;
  throw new InletError(
    'INLET_E_COLUMN',
    `${path}: column "${name}" not found; the data has ${columns.map((c) => `"${c.name}"`).join(', ') || 'no columns'}`,
    { details: { path, column: name } },
  );
}
