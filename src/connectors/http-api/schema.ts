import { z } from 'zod';

const authSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('none') }).strict(),
    z
      .object({ type: z.literal('basic'), username: z.string(), password: z.string().describe('(secret)') })
      .strict(),
    z.object({ type: z.literal('bearer'), token: z.string().describe('(secret)') }).strict(),
    z
      .object({
        type: z.literal('api_key'),
        in: z.enum(['header', 'query']).default('header'),
        name: z.string().min(1).describe('Header or query parameter name, e.g. X-API-Key.'),
        api_key: z.string().describe('(secret)'),
      })
      .strict(),
    z
      .object({
        type: z.literal('oauth2_client_credentials'),
        token_url: z.string().url(),
        client_id: z.string().min(1),
        client_secret: z.string().describe('(secret)'),
        scope: z.string().optional(),
      })
      .strict(),
  ])
  .describe(
    'How calls authenticate; OAuth2 tokens are cached until shortly before they expire, and renewed on 401.',
  );

const conditionValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** One response rule: which answers it matches and what to do with the records of the batch. */
const ruleSchema = z
  .object({
    when: z
      .object({
        status: z
          .union([z.number().int(), z.array(z.number().int()).min(1), z.string().regex(/^[1-5]xx$/)])
          .optional()
          .describe(
            'HTTP status, a list of them, or a class such as "5xx"; without it the rule applies to 2xx answers only.',
          ),
        body: z
          .record(z.string(), z.union([conditionValue, z.array(conditionValue).min(1)]))
          .optional()
          .describe(
            'JSONPath → expected value (or list of values), e.g. {"$.code": 8006}; evaluated on each per-record result when `per_record` is set, else on the whole body.',
          ),
      })
      .strict()
      .default({}),
    outcome: z.enum(['success', 'retry', 'route', 'fail']),
    to: z
      .string()
      .optional()
      .describe('For route: the name of an endpoint under `routes` that gets the same records.'),
    code: z
      .string()
      .optional()
      .describe('JSONPath of the error code to record for fail (default: the HTTP status).'),
    message: z.string().optional().describe('JSONPath of the error message to record for fail.'),
  })
  .strict();

const endpointShape = {
  url: z.string().url(),
  method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
  headers: z.record(z.string(), z.string()).default({}),
  body: z
    .union([z.literal('array'), z.literal('record'), z.object({ wrap: z.string().min(1) }).strict()])
    .default('array')
    .describe(
      'array: the batch as a JSON array; {wrap: key}: {"key": [batch]}; record: one record per call.',
    ),
  per_record: z
    .string()
    .optional()
    .describe(
      'JSONPath of the per-record results in the response, in the order records were sent (e.g. $.results[*]).',
    ),
  responses: z
    .array(ruleSchema)
    .default([])
    .describe('Tried in order. Unmatched: 2xx success, 429/5xx/network errors retry, other 4xx fail.'),
};

export const httpSinkSchema = z
  .object({
    type: z.literal('http'),
    ...endpointShape,
    auth: authSchema.default({ type: 'none' }),
    batch: z
      .object({
        max_records: z.number().int().min(1).max(100_000).default(100),
        max_bytes: z.number().int().min(256).default(1_000_000).describe('Largest JSON body of one call.'),
      })
      .strict()
      .default({ max_records: 100, max_bytes: 1_000_000 }),
    rate_limit: z
      .object({
        calls_per_minute: z.number().positive(),
        burst: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe(
            'Calls allowed at once beyond the even spacing (0 = never above the limit in any minute).',
          ),
        quota: z
          .string()
          .min(1)
          .optional()
          .describe(
            'Name of the quota the calls spend (default: the API origin): jobs and workers using one name share one limit; separate credentials get separate names.',
          ),
      })
      .strict()
      .optional()
      .describe('Shared by every run and worker calling this endpoint, through the metadata store.'),
    concurrency: z.number().int().min(1).max(64).default(4).describe('Calls in flight at once.'),
    timeout_seconds: z.number().positive().default(30),
    retry: z
      .object({
        max_attempts: z.number().int().min(1).max(20).default(5),
        initial_delay_ms: z.number().int().min(0).default(500),
        max_delay_ms: z.number().int().min(0).default(30_000),
      })
      .strict()
      .default({ max_attempts: 5, initial_delay_ms: 500, max_delay_ms: 30_000 }),
    circuit_breaker: z
      .object({
        failures: z
          .number()
          .int()
          .min(1)
          .default(5)
          .describe('Consecutive failed calls that open the circuit.'),
        half_open_after_seconds: z
          .number()
          .positive()
          .default(30)
          .describe('How long the run holds before a probe call.'),
      })
      .strict()
      .default({ failures: 5, half_open_after_seconds: 30 }),
    idempotency_header: z
      .string()
      .default('Idempotency-Key')
      .describe('Header carrying each batch\'s stable key; "" to send none.'),
    routes: z
      .record(z.string(), z.object(endpointShape).strict())
      .default({})
      .describe('Other endpoints a rule can route records to (seed 001: customer exists → UPD_CUST).'),
  })
  .strict()
  .describe(
    'Records delivered to a REST API in batches: auth, shared rate limit, response rules, retries, circuit breaker, idempotency keys.',
  );

export type HttpSinkConfig = z.output<typeof httpSinkSchema>;
export type EndpointConfig = Pick<HttpSinkConfig, keyof typeof endpointShape>;
export type ResponseRule = z.output<typeof ruleSchema>;
export type AuthConfig = z.output<typeof authSchema>;
