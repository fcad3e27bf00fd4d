import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { assertIdentity, inlet, query, runJob, tempDir } from '../helpers.ts';

function jobIn(dir: string, format: string, pattern: string): string {
  const job = join(dir, 'job.yaml');
  writeFileSync(
    job,
    `name: bad-input\nsource: { type: file, path: in, pattern: "${pattern}", format: ${format} }\nsink: { type: file, path: out, format: parquet }\n`,
  );
  return job;
}

describe('bad input never crashes the process and never disappears', () => {
  it('CSV: malformed lines and invalid UTF-8 are quarantined, a truncated gzip fails its unit, the rest loads', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a-good.csv'), 'id,name\n1,ann\n2,bob\n');
    writeFileSync(join(dir, 'in', 'b-ragged.csv'), 'id,name\n3,cy\n4,dee,extra\n5,"unclosed\n');
    writeFileSync(
      join(dir, 'in', 'c-utf8.csv'),
      Buffer.concat([
        Buffer.from('id,name\n6,eve\n7,'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('x\n8,fin\n'),
      ]),
    );
    const gz = gzipSync(
      Buffer.from(`id,name\n${Array.from({ length: 5000 }, (_, i) => `${100 + i},n${i}`).join('\n')}\n`),
    );
    writeFileSync(join(dir, 'in', 'd-truncated.csv.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    const run = await runJob(jobIn(dir, '{ type: csv }', '*'), join(dir, '.inlet'));
    assert.equal(run.code, 1, 'a failed unit fails the run');
    assert.equal(run.status, 'failed');
    assertIdentity(run);
    const byName = Object.fromEntries(run.units.map((u) => [u.uri.split('/').pop(), u]));
    assert.equal(byName['a-good.csv'].status, 'committed');
    assert.equal(byName['b-ragged.csv'].status, 'committed');
    assert.equal(byName['b-ragged.csv'].quarantined, 2);
    assert.equal(byName['c-utf8.csv'].status, 'committed');
    assert.equal(byName['c-utf8.csv'].quarantined, 1);
    assert.equal(byName['c-utf8.csv'].written, 2);
    assert.equal(byName['d-truncated.csv.gz'].status, 'failed');
    assert.match(byName['d-truncated.csv.gz'].error ?? '', /d-truncated\.csv\.gz/);
    const [{ n }] = await query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM read_parquet('${dir}/out/*.parquet')`,
    );
    assert.equal(n, 2 + 1 + 2);
    const q = JSON.parse(
      (await inlet(['quarantine', run.run_id, '--json'], { dataDir: join(dir, '.inlet') })).stdout,
    );
    const utf8 = q.records.find((r: { unit: string }) => r.unit.endsWith('c-utf8.csv'));
    assert.equal(utf8.line, 3);
    assert.match(utf8.reason, /INVALID ENCODING|unicode/i);
  });

  it('Parquet: a truncated file fails its unit with a clear reason; the good file loads', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'in'));
    await query(`COPY (SELECT range AS id FROM range(1000)) TO '${dir}/in/good.parquet' (FORMAT parquet)`);
    const good = readFileSync(join(dir, 'in', 'good.parquet'));
    writeFileSync(join(dir, 'in', 'truncated.parquet'), good.subarray(0, good.length - 40));
    const run = await runJob(jobIn(dir, '{ type: parquet }', '*.parquet'), join(dir, '.inlet'));
    assert.equal(run.status, 'failed');
    const [goodUnit, truncated] = run.units;
    assert.equal(goodUnit.status, 'committed');
    assert.equal(goodUnit.written, 1000);
    assert.equal(truncated.status, 'failed');
    assert.match(truncated.error ?? '', /truncated\.parquet/);
  });

  it('XML: an entity-expansion bomb fails its unit quickly and names the cause; the good file loads', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a.xml'), '<r><row><id>1</id></row><row><id>2</id></row></r>');
    const entities = Array.from(
      { length: 10 },
      (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`,
    ).join('');
    writeFileSync(
      join(dir, 'in', 'bomb.xml'),
      `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">${entities}]><r><row><id>&l10;</id></row></r>`,
    );
    const run = await runJob(jobIn(dir, '{ type: xml, record_path: r/row }', '*.xml'), join(dir, '.inlet'));
    assert.equal(run.status, 'failed');
    assert.equal(run.units[0].written, 2);
    assert.equal(run.units[1].status, 'failed');
    assert.match(run.units[1].error ?? '', /entit/i);
  });
});
