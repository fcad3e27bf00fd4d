import { createTransport } from 'nodemailer';
import type { JobSpec } from '../connectors/registry.ts';
import { InletError, isTransient } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { type AlertChannel, durationMs } from '../engine/alert-spec.ts';
import { refusePrivateAddress } from '../engine/network-policy.ts';
import { withRetry } from '../engine/retry.ts';
import type { MetadataStore } from '../store/store.ts';

export interface AlerterOptions {
  store: MetadataStore;
  logger: Logger;
  /** smtp://user:pass@host:port (or smtps://…) for e-mail alerts. */
  smtpUrl?: string;
  from?: string;
  /** Webhooks may target private or loopback addresses (off by default: a job spec must not reach internal services). */
  allowPrivateNetworks?: boolean;
  retries?: number;
  minRetryMs?: number;
  now?: () => Date;
}

/** What the alerter needs of a finished run. */
export interface RunOutcome {
  run_id: string;
  job: string;
  status: string;
  counts: { received: number; written: number; quarantined: number; filtered: number };
  error?: string;
}

/**
 * Raises a job's alerts — failure, zero records, quarantine ratio, freshness — and
 * delivers each to the job's channels (Slack-compatible webhook, e-mail), retrying
 * transient failures and recording every delivery in the store.
 */
export class Alerter {
  readonly #options: AlerterOptions;

  constructor(options: AlerterOptions) {
    this.#options = options;
  }

  async onRunFinished(spec: JobSpec, run: RunOutcome): Promise<void> {
    const alerts = spec.alerts;
    if (!alerts) return;
    const { received, quarantined } = run.counts;
    const raised: [string, string][] = [];
    if (alerts.on_failure && run.status === 'failed')
      raised.push(['failure', `run ${run.run_id} of ${run.job} failed: ${run.error ?? 'see the run'}`]);
    if (alerts.on_zero_records && run.status === 'succeeded' && received === 0)
      raised.push(['zero_records', `run ${run.run_id} of ${run.job} received no records`]);
    if (
      alerts.quarantine_ratio_above !== undefined &&
      received > 0 &&
      quarantined / received > alerts.quarantine_ratio_above
    ) {
      const ratio = ((100 * quarantined) / received).toFixed(1);
      raised.push([
        'quarantine_ratio',
        `run ${run.run_id} of ${run.job} quarantined ${quarantined} of ${received} records (${ratio}%, above ${alerts.quarantine_ratio_above * 100}%)`,
      ]);
    }
    for (const [kind, message] of raised)
      await this.#deliver(run.job, run.run_id, kind, message, alerts.channels);
  }

  /** Alerts once per stale period when a job has had no successful run within its freshness window. */
  async checkFreshness(spec: JobSpec, since: Date): Promise<void> {
    const window = spec.alerts?.freshness;
    if (!window) return;
    const { store } = this.#options;
    const now = (this.#options.now ?? (() => new Date()))();
    const lastSuccess = (await store.lastSuccesses()).find((s) => s.job === spec.name);
    const fresh = lastSuccess ? new Date(lastSuccess.finishedAt) : since;
    if (now.getTime() - fresh.getTime() <= durationMs(window)) return;
    // One alert per stale period: the period is named by the last success it follows.
    const period = fresh.toISOString();
    if ((await store.getState(spec.name, 'freshness_alerted_after')) === period) return;
    await store.setState(spec.name, 'freshness_alerted_after', period);
    const message = `${spec.name} has had no successful run for more than ${window} (last: ${lastSuccess?.finishedAt ?? 'never'})`;
    await this.#deliver(spec.name, null, 'freshness', message, spec.alerts!.channels);
  }

  async #deliver(
    job: string,
    runId: string | null,
    kind: string,
    message: string,
    channels: AlertChannel[],
  ): Promise<void> {
    for (const channel of channels) {
      let attempts = 0;
      const target =
        channel.type === 'webhook'
          ? `webhook ${new URL(channel.url).origin}`
          : `email ${channel.to.join(', ')}`;
      let outcome: { status: 'delivered' | 'failed'; error: string | null };
      try {
        await withRetry(
          () => {
            attempts++;
            return channel.type === 'webhook'
              ? this.#postWebhook(channel.url, { job, run_id: runId, kind, message })
              : this.#sendMail(channel.to, kind, job, message);
          },
          {
            what: `alert ${kind} to ${target}`,
            logger: this.#options.logger,
            retries: this.#options.retries ?? 4,
            minTimeoutMs: this.#options.minRetryMs,
          },
        );
        outcome = { status: 'delivered', error: null };
      } catch (error) {
        outcome = { status: 'failed', error: (error as Error).message };
      }
      await this.#options.store.recordAlert({
        job,
        runId,
        kind,
        channel: target,
        message,
        attempts,
        ...outcome,
      });
      const fields = { job, run_id: runId, kind, channel: target, attempts, error: outcome.error };
      if (outcome.status === 'delivered') this.#options.logger.info(fields, 'alert.delivered');
      else this.#options.logger.error(fields, 'alert.failed');
    }
  }

  async #postWebhook(
    url: string,
    alert: { job: string; run_id: string | null; kind: string; message: string },
  ): Promise<void> {
    await this.#refusePrivate(url);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `inlet: ${alert.message}`, ...alert }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new InletError(
        'INLET_E_IO',
        `webhook unreachable: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`,
        { cause: error },
      );
    }
    if (response.ok) return;
    const code = response.status >= 500 || response.status === 429 ? 'INLET_E_IO' : 'INLET_E_SINK';
    throw new InletError(code, `webhook answered ${response.status}`);
  }

  async #sendMail(to: string[], kind: string, job: string, message: string): Promise<void> {
    if (!this.#options.smtpUrl) throw new InletError('INLET_E_SINK', 'e-mail alerts need INLET_SMTP_URL');
    const transport = createTransport(this.#options.smtpUrl);
    try {
      await transport.sendMail({
        from: this.#options.from ?? 'inlet@localhost',
        to,
        subject: `[inlet] ${kind}: ${job}`,
        text: message,
      });
    } catch (error) {
      const code = (error as { responseCode?: number }).responseCode;
      const transient = code === undefined || (code >= 400 && code < 500) || isTransient(error);
      throw new InletError(transient ? 'INLET_E_IO' : 'INLET_E_SINK', `SMTP: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      transport.close();
    }
  }

  /** Webhook URLs come from job specs: they may not reach private or loopback addresses unless allowed. */
  async #refusePrivate(url: string): Promise<void> {
    await refusePrivateAddress(url, 'webhook', this.#options.allowPrivateNetworks ?? false);
  }
}
