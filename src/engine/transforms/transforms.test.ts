import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InletError } from '../../core/errors.ts';
import { silentLogger } from '../../observability/logger.ts';
import { DuckDbSession } from '../duckdb-session.ts';
import {
  baseRelation,
  compileTransforms,
  FLAGS,
  LIVE,
  type TransformStep,
  transformStepSchema,
} from './index.ts';

let session: DuckDbSession;
const dir = mkdtempSync(join(tmpdir(), 'inlet-transforms-'));
let seq = 0;

before(async () => {
  session = await DuckDbSession.open({
    memoryLimit: '256MB',
    tempDirectory: join(dir, 'tmp'),
    allowedDirectories: [dir],
  });
});
after(() => session.close());

interface Outcome {
  live: Record<string, unknown>[];
  rejected: { row: number | null; rule: string; reason: string }[];
  filtered: number;
}

/** Applies `steps` to rows given as a SELECT and reports each row's fate. */
async function apply(rowsSql: string, steps: unknown[]): Promise<Outcome> {
  const prefix = `t${++seq}`;
  await session.run(`CREATE TABLE ${prefix}_raw AS ${rowsSql}`);
  const parsed = steps.map((step) => transformStepSchema.parse(step)) as TransformStep[];
  const base = await baseRelation({ session }, `${prefix}_raw`);
  const relation = await compileTransforms(base, parsed, {
    session,
    baseDir: dir,
    spoolDir: dir,
    tablePrefix: prefix,
    logger: silentLogger(),
    signal: new AbortController().signal,
  });
  await session.run(`CREATE TABLE ${prefix}_norm AS ${relation.sql}`);
  const columns = relation.columns.map((c) => `"${c.name}"`).join(', ');
  return {
    live: await session.all(`SELECT ${columns} FROM ${prefix}_norm WHERE ${LIVE} ORDER BY ${FLAGS.row}`),
    rejected: await session.all(
      `SELECT ${FLAGS.row}::INTEGER AS row, ${FLAGS.rule} AS rule, ${FLAGS.reason} AS reason FROM ${prefix}_norm WHERE ${FLAGS.rule} IS NOT NULL ORDER BY ${FLAGS.row}`,
    ),
    filtered: Number(
      (
        await session.all<{ n: number }>(
          `SELECT count(*)::INTEGER AS n FROM ${prefix}_norm WHERE ${FLAGS.rule} IS NULL AND ${FLAGS.drop} IS NOT NULL`,
        )
      )[0].n,
    ),
  };
}

const text = (values: string[], column = 'v') =>
  `SELECT * FROM (VALUES ${values.map((v) => `(${v})`).join(', ')}) t("${column}")`;

describe('cast', () => {
  it('never rounds: 1.5 is not an integer, " 12 " is', async () => {
    const out = await apply(text(["'12'", "' 12 '", "'1.5'", "'abc'", 'NULL']), [{ cast: { v: 'integer' } }]);
    assert.deepEqual(
      out.live.map((r) => r.v),
      [12, 12, null],
    );
    assert.deepEqual(
      out.rejected.map((r) => [r.row, r.rule]),
      [
        [3, 'cast: v as integer'],
        [4, 'cast: v as integer'],
      ],
    );
    assert.equal(out.rejected[0].reason, "cannot convert v value '1.5' to integer");
  });

  it('parses dates with a format and decimals with scale', async () => {
    const out = await apply("SELECT * FROM (VALUES ('31/12/2024', '10.5'), ('2024-12-31', 'x')) t(d, m)", [
      { cast: { d: { type: 'date', format: '%d/%m/%Y' }, m: 'decimal(8,2)' } },
    ]);
    assert.deepEqual(out.live, [{ d: '2024-12-31', m: '10.50' }]);
    assert.equal(out.rejected[0].rule, 'cast: d as date');
  });
});

describe('filter, validate, dedupe', () => {
  it('filter drops false and NULL, counted as filtered', async () => {
    const out = await apply(text(['1', '5', 'NULL']), [{ filter: 'v > 2' }]);
    assert.deepEqual(out.live, [{ v: 5 }]);
    assert.equal(out.filtered, 2);
  });

  it('validate: the first broken rule is recorded; NULL passes a rule, as in SQL CHECK', async () => {
    const out = await apply(
      "SELECT * FROM (VALUES (1, 'a'), (-1, 'b'), (NULL, 'c'), (2, NULL), (2, '')) t(n, s)",
      [{ validate: { required: ['s'], rules: ['n >= 0'] } }],
    );
    assert.deepEqual(out.live, [
      { n: 1, s: 'a' },
      { n: null, s: 'c' },
    ]);
    assert.deepEqual(
      out.rejected.map((r) => [r.row, r.rule]),
      [
        [2, 'rule: n >= 0'],
        [4, 'required: s'],
        [5, 'required: s'],
      ],
    );
  });

  it('validate unique keeps the first occurrence among live rows', async () => {
    const out = await apply("SELECT * FROM (VALUES (1, 'x'), (1, 'y'), (2, 'z'), (1, 'w')) t(id, tag)", [
      { validate: { unique: ['id'] } },
    ]);
    assert.deepEqual(
      out.live.map((r) => r.tag),
      ['x', 'z'],
    );
    assert.deepEqual(
      out.rejected.map((r) => [r.row, r.reason]),
      [
        [2, "duplicate id '1'"],
        [4, "duplicate id '1'"],
      ],
    );
  });

  it('dedupe keeps the last occurrence when asked; removed rows are filtered', async () => {
    const out = await apply("SELECT * FROM (VALUES (1, 'x'), (1, 'y'), (2, 'z')) t(id, tag)", [
      { dedupe: { key: ['id'], keep: 'last' } },
    ]);
    assert.deepEqual(
      out.live.map((r) => r.tag),
      ['y', 'z'],
    );
    assert.equal(out.filtered, 1);
  });
});

describe('rename, select, drop, derive, mask', () => {
  it('shape columns and name a missing column with the ones that exist', async () => {
    const out = await apply('SELECT 1 AS a, 2 AS b, 3 AS c', [
      { rename: { a: 'x' } },
      { drop: ['b'] },
      { derive: { y: 'x + c' } },
      { select: ['y', 'x'] },
    ]);
    assert.deepEqual(out.live, [{ y: 4, x: 1 }]);
    await assert.rejects(apply('SELECT 1 AS a', [{ rename: { nope: 'x' } }]), (error: InletError) => {
      assert.equal(error.code, 'INLET_E_COLUMN');
      assert.match(error.message, /transforms\[0\]\.rename\.nope: column "nope" not found; the data has "a"/);
      return true;
    });
  });

  it('refuses anything but a single expression', async () => {
    await assert.rejects(
      apply('SELECT 1 AS a', [{ derive: { b: '1) FROM t; DROP TABLE t; SELECT (1' } }]),
      /INLET|not a valid SQL expression/,
    );
    await assert.rejects(
      apply('SELECT 1 AS a', [{ filter: 'a = ' }]),
      (error: InletError) => error.code === 'INLET_E_EXPRESSION',
    );
  });

  it('masks: salted sha256, redact, partial', async () => {
    const out = await apply("SELECT 'ann@example.com' AS email, '+44 7700 900123' AS phone, 'Ann' AS name", [
      {
        mask: {
          email: { method: 'sha256', salt: 'pepper-123' },
          phone: { method: 'partial', keep_last: 3 },
          name: 'redact',
        },
      },
    ]);
    const [{ sha }] = await session.all<{ sha: string }>("SELECT sha256('pepper-123ann@example.com') AS sha");
    assert.deepEqual(out.live, [{ email: sha, phone: '************123', name: '[REDACTED]' }]);
    assert.throws(() => transformStepSchema.parse({ mask: { email: 'sha256' } }), 'sha256 needs a salt');
  });
});

describe('script', () => {
  it('keeps, changes, drops and rejects rows with exact accounting', async () => {
    const module = join(dir, 'fix.ts');
    writeFileSync(
      module,
      `export default function (rows: Record<string, unknown>[], { reject }: { reject: (row: Record<string, unknown>, reason: string) => void }) {
        const kept = [];
        for (const row of rows) {
          if (row.v === 2) reject(row, 'two is bad');
          else if (row.v === 3) continue;
          else kept.push({ ...row, w: String(row.v).repeat(2) });
        }
        return kept;
      }\n`,
    );
    const out = await apply(text(['1', '2', '3', '4']), [
      { validate: { rules: ['v < 4'] } },
      { script: { module: 'fix.ts', batch_size: 2 } },
    ]);
    assert.deepEqual(out.live, [{ v: 1, w: '11' }]);
    assert.deepEqual(
      out.rejected.map((r) => [r.row, r.rule, r.reason]),
      [
        [2, 'script', 'script: two is bad'],
        [4, 'rule: v < 4', 'rule failed: v < 4'],
      ],
    );
    assert.equal(out.filtered, 1);
  });

  it('refuses a script that adds rows', async () => {
    writeFileSync(join(dir, 'grow.ts'), 'export default (rows: unknown[]) => [...rows, ...rows];\n');
    await assert.rejects(
      apply(text(['1']), [{ script: { module: 'grow.ts' } }]),
      /more rows than it was given/,
    );
  });
});

describe('step schema', () => {
  it('wants exactly one step per item', () => {
    assert.throws(() => transformStepSchema.parse({}), /exactly one/);
    assert.throws(() => transformStepSchema.parse({ filter: 'a', select: ['a'] }), /exactly one/);
    assert.throws(() => transformStepSchema.parse({ filtre: 'a' }), /filtre/);
  });
});
