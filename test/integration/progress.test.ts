import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, tempDir } from '../helpers.ts';

it('shows a live progress line (stage, units, rows, rows/s) when run on a terminal', async () => {
  const dir = tempDir('inlet-progress-');
  cpSync(join(ROOT, 'examples', 'csv-to-parquet'), dir, { recursive: true });
  // script(1) gives the command a pseudo-terminal, as a user's shell would.
  const { stdout } = await promisify(execFile)(
    'script',
    ['-qefc', `${join(ROOT, 'bin', 'inlet')} run ${join(dir, 'job.yaml')}`, '/dev/null'],
    { env: { ...process.env, INLET_DATA_DIR: join(dir, '.inlet'), INLET_LOG_LEVEL: 'error' } },
  );
  const ERASE_LINE = '\r\u001b[K';
  assert.ok(stdout.includes(`${ERASE_LINE}done · units 2/2 · rows 15 · `), 'the line is redrawn in place');
  assert.match(stdout, /done · units 2\/2 · rows 15 · [\d,]+ rows\/s · [\d.]+s/);
  assert.match(stdout, /received 15 · written 8 · quarantined 7 · filtered 0/);
});
