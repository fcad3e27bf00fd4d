import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { InletError } from '../core/errors.ts';

/**
 * For the decoders' tests: asserts that a conversion fails with an InletError of `code`
 * whose message matches `message`, and that it left no partial output file behind.
 */
export async function assertConversionFails(
  conversion: Promise<unknown>,
  output: string,
  code: string,
  message: RegExp,
): Promise<InletError> {
  let caught: unknown;
  await assert.rejects(conversion, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof InletError, `expected an InletError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  assert.equal(existsSync(output), false, 'a failed conversion leaves no partial output');
  return caught;
}
