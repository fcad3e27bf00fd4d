import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import type { InletError } from '../core/errors.ts';
import { type JobProblem, parseJobText } from './job-file.ts';

const schema = z
  .object({
    name: z.string(),
    opts: z.object({ n: z.number(), s: z.string().optional() }).strict(),
    list: z.array(z.string()).default([]),
  })
  .strict();
const parse = (text: string, extra: { env?: Record<string, string>; overrides?: string[] } = {}) =>
  parseJobText(text, schema, { baseDir: '/jobs', source: 'job.yaml', env: {}, ...extra });

function problems(run: () => unknown): JobProblem[] {
  try {
    run();
  } catch (error) {
    return (error as InletError).details.problems as JobProblem[];
  }
  assert.fail('expected the job to be refused');
}

describe('job files', () => {
  it('locates schema problems by path and line', () => {
    const found = problems(() => parse('name: a\nopts:\n  n: "x"\n  extra: 1\nlist: [1]\n'));
    assert.deepEqual(
      found.map((p) => [p.path, p.line]),
      [
        ['opts.n', 3],
        ['opts.extra', 4],
        ['list[0]', 5],
      ],
    );
  });

  it('interpolates ${VAR}, ${VAR:-default} and $$, and names what is missing', () => {
    const job = parse('name: ${A}-${B:-dflt}-$$x\nopts: { n: 1 }\n', { env: { A: 'one' } });
    assert.equal(job.spec.name, 'one-dflt-$x');
    const found = problems(() => parse('name: a\nopts:\n  n: 1\n  s: ${NOPE}\n'));
    assert.deepEqual(found, [{ path: 'opts.s', line: 4, message: 'environment variable NOPE is not set' }]);
  });

  it('reads an unquoted ${VAR} that is the whole value as a number or boolean, a quoted one as text', () => {
    const job = parse('name: "${N}"\nopts:\n  n: ${N}\n', { env: { N: '42' } });
    assert.equal(job.spec.name, '42');
    assert.equal(job.spec.opts.n, 42);
    const found = problems(() => parse('name: a\nopts:\n  n: "${N}"\n', { env: { N: '42' } }));
    assert.deepEqual(
      found.map((p) => p.path),
      ['opts.n'],
    );
  });

  it('applies --set overrides with YAML types before validating', () => {
    const job = parse('name: a\nopts: { n: 1 }\nlist: [x, y]\n', {
      overrides: ['opts.n=42', 'list[1]=z', 'opts.s=hello world'],
    });
    assert.deepEqual(job.spec, { name: 'a', opts: { n: 42, s: 'hello world' }, list: ['x', 'z'] });
  });

  it('reports YAML syntax errors as INLET_E_JOB_YAML with a line', () => {
    assert.throws(
      () => parse('name: a\nopts: {n: 1\n'),
      (error: InletError) => error.code === 'INLET_E_JOB_YAML' && /line \d/.test(error.message),
    );
  });
});
