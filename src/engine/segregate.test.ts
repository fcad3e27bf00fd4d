import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, type SegregationRule } from './segregate.ts';

const rules: SegregationRule[] = [
  { name: 'users', match: { pattern: 'users_*', extension: ['csv', '.CSV.GZ'] } },
  { name: 'big-trx', match: { pattern: 'trx_*', min_size: 1000 } },
  { name: 'trx', match: { pattern: 'trx_*', max_size: 999, metadata: { Kind: 'trx' } } },
];

describe('segregation rules', () => {
  it('takes the first rule whose every condition holds', () => {
    assert.equal(classify(rules, { name: 'users_1.csv', size: 5 })?.name, 'users');
    assert.equal(
      classify(rules, { name: 'users_1.csv.gz', size: 5 })?.name,
      'users',
      'extensions ignore case and dots',
    );
    assert.equal(classify(rules, { name: 'users_1.json', size: 5 }), undefined, 'wrong extension');
    assert.equal(classify(rules, { name: 'trx_1.csv', size: 5000 })?.name, 'big-trx');
    assert.equal(classify(rules, { name: 'trx_1.csv', size: 10, metadata: { kind: 'trx' } })?.name, 'trx');
    assert.equal(classify(rules, { name: 'trx_1.csv', size: 10, metadata: { kind: 'other' } }), undefined);
    assert.equal(classify(rules, { name: 'trx_1.csv', size: 10 }), undefined, 'metadata missing');
  });

  it('matches the pattern against the name only, never hidden files', () => {
    assert.equal(
      classify([{ name: 'all', match: { pattern: '*' } }], { name: '.users_1.csv', size: 1 }),
      undefined,
    );
    assert.equal(classify([{ name: 'all', match: {} }], { name: 'anything', size: 0 })?.name, 'all');
  });
});
