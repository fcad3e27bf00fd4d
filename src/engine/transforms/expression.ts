import type { SqlSession } from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import { literal } from '../sql.ts';

interface SerializedSql {
  error: boolean;
  error_message?: string;
  statements?: { node: { type: string; select_list: unknown[]; from_table: { type: string } } }[];
}

/**
 * Accepts `expression` only if DuckDB parses it as exactly one scalar expression:
 * job specs can arrive over the API, and an expression must not smuggle in a second
 * statement. (The session's directory lock already stops file access.)
 */
export async function checkExpression(
  session: SqlSession,
  expression: string,
  path: string,
): Promise<string> {
  const [{ parsed }] = await session.all<{ parsed: string }>(
    `SELECT json_serialize_sql(${literal(`SELECT (${expression})`)}) AS parsed`,
  );
  const tree = JSON.parse(parsed) as SerializedSql;
  const statement = tree.statements?.length === 1 ? tree.statements[0].node : undefined;
  const single =
    !tree.error &&
    statement?.type === 'SELECT_NODE' &&
    statement.select_list.length === 1 &&
    statement.from_table.type === 'EMPTY';
  if (!single) {
    const why = tree.error ? (tree.error_message ?? 'it does not parse') : 'it is not a single expression';
    throw new InletError(
      'INLET_E_EXPRESSION',
      `${path}: ${JSON.stringify(expression)} is not a valid SQL expression: ${why}`,
      {
        details: { path, expression },
      },
    );
  }
  return `(${expression})`;
}
