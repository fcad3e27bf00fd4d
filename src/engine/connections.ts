import type { ConnectionKind, MetadataStore } from '../store/store.ts';
import type { SecretBox } from './secret-box.ts';

/** A named connection, opened: the connector type and its (secret-bearing) settings. */
export interface Connection {
  type: string;
  config: Record<string, unknown>;
}

export type Connections = Record<ConnectionKind, Map<string, Connection>>;

/** Every stored connection, decrypted, for resolving `connection:` references in job specs. */
export async function loadConnections(store: MetadataStore, box: SecretBox): Promise<Connections> {
  const connections: Connections = { source: new Map(), destination: new Map() };
  for (const stored of await store.listConnections()) {
    connections[stored.kind].set(stored.name, {
      type: stored.type,
      config: JSON.parse(box.open(stored.sealedConfig)),
    });
  }
  return connections;
}

/**
 * Replaces `connection: <name>` in a job's source and sinks by the named connection's
 * settings; keys the job sets itself win. Unknown names and type mismatches are reported
 * through `problem` with the path of the reference.
 */
export function applyConnections(
  job: Record<string, unknown>,
  connections: Connections,
  problem: (path: (string | number)[], message: string) => void,
): void {
  const resolve = (block: unknown, kind: ConnectionKind, path: (string | number)[]): unknown => {
    if (!block || typeof block !== 'object' || !('connection' in block)) return block;
    const { connection: name, ...own } = block as Record<string, unknown>;
    const found = typeof name === 'string' ? connections[kind].get(name) : undefined;
    if (!found) {
      problem([...path, 'connection'], `no ${kind} connection named ${JSON.stringify(name)}`);
      return block;
    }
    if (own.type !== undefined && own.type !== found.type) {
      problem([...path, 'type'], `the connection ${name} is of type ${found.type}, not ${String(own.type)}`);
      return block;
    }
    return { ...found.config, type: found.type, ...own };
  };
  job.source = resolve(job.source, 'source', ['source']);
  if (Array.isArray(job.sinks))
    job.sinks = job.sinks.map((sink, i) => resolve(sink, 'destination', ['sinks', i]));
  if (job.sink) job.sink = resolve(job.sink, 'destination', ['sink']);
  // Archive and failed-file stores are destinations too.
  for (const [block, key] of [
    ['on_success', 'archive'],
    ['on_failure', 'move_to'],
  ] as const) {
    const target = (job[block] as Record<string, Record<string, unknown>> | undefined)?.[key];
    if (target && typeof target === 'object' && target.store)
      target.store = resolve(target.store, 'destination', [block, key, 'store']);
  }
}
