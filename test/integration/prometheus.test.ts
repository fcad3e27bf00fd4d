import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, ROOT, startService, tempDir } from '../helpers.ts';

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

it('a real Prometheus server scrapes /metrics with an API key and sees the run', async () => {
  // .ci/run installs Debian's prometheus package when it is missing.
  assert.equal(
    spawnSync('prometheus', ['--version']).status,
    0,
    'the prometheus binary is needed (apt-get install prometheus)',
  );
  const dir = tempDir('inlet-prom-');
  cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
  const [apiPort, promPort] = [await freePort(), await freePort()];
  const key = 'prometheus-test-admin-key';
  const service = await startService(join(dir, '.inlet'), {
    port: apiPort,
    args: ['--jobs', join(dir, 'examples')],
    env: { INLET_ADMIN_KEY: key },
  });
  const api = `http://127.0.0.1:${apiPort}`;
  const auth = { authorization: `Bearer ${key}` };
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: inlet\n    authorization: { credentials: ${key} }\n    static_configs: [{ targets: ['127.0.0.1:${apiPort}'] }]\n`,
  );
  const prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: 'ignore' },
  );
  try {
    const trigger = await fetch(`${api}/jobs/transactions-to-parquet/runs`, {
      method: 'POST',
      headers: auth,
    });
    const { run_id: runId } = (await trigger.json()) as { run_id: string };
    await until('the run', async () => {
      const run = (await (await fetch(`${api}/runs/${runId}`, { headers: auth })).json()) as {
        status: string;
      };
      return run.status === 'running' ? undefined : run;
    });
    type Vector = { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    const query = async (promql: string) =>
      (await (
        await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`)
      ).json()) as Vector;
    const runs = await until('Prometheus to scrape the run', async () => {
      // Prometheus keeps its own target label `job`; ours arrives as exported_job unless honor_labels is set.
      const result = (await query('inlet_runs_total{exported_job="transactions-to-parquet"}')).data.result;
      return result.length ? result : undefined;
    });
    assert.equal(runs[0].metric.status, 'succeeded');
    assert.equal(runs[0].value[1], '1');
    const written = (
      await query('inlet_records_total{exported_job="transactions-to-parquet",outcome="written"}')
    ).data.result;
    assert.equal(written[0].value[1], '8');
    const up = (await query('up{job="inlet"}')).data.result;
    assert.equal(up[0].value[1], '1', 'the scrape with the API key succeeds');
  } finally {
    prometheus.kill('SIGTERM');
    await service.stop();
  }
});
