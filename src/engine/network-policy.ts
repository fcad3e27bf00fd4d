import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { InletError } from '../core/errors.ts';

/**
 * URLs in job specs may come over the API, so they must not reach private, loopback or
 * link-local addresses (internal services, cloud metadata) unless the deployment allows it
 * with INLET_ALLOW_PRIVATE_NETWORKS=true.
 */
export async function refusePrivateAddress(url: string, what: string, allowed: boolean): Promise<void> {
  if (allowed) return;
  const { hostname } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, '');
  const address = ipaddr.isValid(host) ? host : (await lookup(host)).address;
  const range = ipaddr.process(address).range();
  if (range !== 'unicast') {
    throw new InletError(
      'INLET_E_SINK',
      `${what} ${hostname} resolves to a ${range} address; set INLET_ALLOW_PRIVATE_NETWORKS=true to allow it`,
    );
  }
}
