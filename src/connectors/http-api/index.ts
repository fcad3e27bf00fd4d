import type { Sink, SinkSpec } from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import { createAuthenticator } from './auth.ts';
import { deliverUnit } from './deliver.ts';
import { Endpoint } from './endpoint.ts';
import { httpSinkSchema } from './schema.ts';

/**
 * The HTTP sink: delivery happens in stage() (an API call cannot be staged and renamed into
 * place), so its guarantee is at-least-once, made effectively once by idempotency keys and
 * by the store's record of delivered batches.
 */
export const httpSink: SinkSpec<typeof httpSinkSchema> = {
  kind: 'sink',
  type: 'http',
  summary:
    'Records to a REST API in batches: auth, shared rate limit, response rules, retries, circuit breaker.',
  config: httpSinkSchema,
  create(config, context): Sink {
    for (const [i, rule] of config.responses.entries()) {
      if (rule.outcome === 'route' && !(rule.to && config.routes[rule.to])) {
        throw new InletError(
          'INLET_E_JOB_INVALID',
          `responses[${i}]: route needs "to" naming one of routes (${Object.keys(config.routes).join(', ') || 'none defined'})`,
        );
      }
    }
    const auth = createAuthenticator(config.auth);
    const endpoint = (name: string, endpointConfig: typeof config) =>
      new Endpoint({
        name,
        config: endpointConfig,
        sink: config,
        auth,
        shared: context.shared,
        logger: context.logger,
        allowPrivateNetworks: context.allowPrivateNetworks,
      });
    const endpoints = {
      main: endpoint('main', config),
      routes: new Map(
        Object.entries(config.routes).map(([name, route]) => [name, endpoint(name, { ...config, ...route })]),
      ),
    };
    return {
      guarantee: 'at-least-once',
      writeDirectories: [],
      rebuildsEachRun: false,
      async stage(session, input, sinkIndex, signal) {
        const { delivered, rejected, summary } = await deliverUnit(config, endpoints, session, input, {
          job: context.jobName ?? '',
          runId: input.runId,
          unitUri: input.unitUri,
          shared: context.shared,
          logger: context.logger,
          signal,
        });
        return { sink: sinkIndex, rows: delivered, moves: [], rejected, delivery: summary };
      },
      async commit() {},
      async finishRun() {},
      async discardStaging() {},
    };
  },
};
