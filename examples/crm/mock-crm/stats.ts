import { ENDPOINTS, type Endpoint, RESULT_CODES, type RecordResult } from './crm-data.ts';

/** What the mock CRM saw, as `GET /stats` answers it. */
export interface MockCrmStats {
  /** Calls answered 200 per endpoint, fresh or replayed. */
  calls: Record<Endpoint, number>;
  /** Every API request, rejected ones included. */
  attempts_total: number;
  over_limit: number;
  unauthorized: number;
  failed_injected: number;
  lost_responses: number;
  timeouts: number;
  duplicate_deliveries: number;
  calls_without_key: number;
  /** Record results per endpoint and result code, from applied calls only (replays not counted). */
  records: Record<Endpoint, Record<string, number>>;
  customers: number;
  transactions: number;
  /** The most accepted calls within any rolling 60 s so far. */
  max_calls_in_any_minute: number;
}

/** The counters of `MockCrmStats`; the data sizes and busiest minute are read live. */
export type Counters = Omit<MockCrmStats, 'customers' | 'transactions' | 'max_calls_in_any_minute'>;

export function emptyCounters(): Counters {
  const perEndpoint = <T>(make: (endpoint: Endpoint) => T) =>
    Object.fromEntries(ENDPOINTS.map((endpoint) => [endpoint, make(endpoint)])) as Record<Endpoint, T>;
  return {
    calls: perEndpoint(() => 0),
    attempts_total: 0,
    over_limit: 0,
    unauthorized: 0,
    failed_injected: 0,
    lost_responses: 0,
    timeouts: 0,
    duplicate_deliveries: 0,
    calls_without_key: 0,
    records: perEndpoint((endpoint) => Object.fromEntries(RESULT_CODES[endpoint].map((code) => [code, 0]))),
  };
}

export function countResults(counters: Counters, endpoint: Endpoint, results: RecordResult[]): void {
  const byCode = counters.records[endpoint];
  for (const { code } of results) byCode[code] = (byCode[code] ?? 0) + 1;
}
