import {
  BlobServiceClient,
  type BlobServiceClientOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { InletError } from '../../core/errors.ts';

/** The ways to sign in to a storage account: exactly one of the three combinations is given. */
export interface AzureCredentialOptions {
  connectionString?: string;
  accountUrl?: string;
  sasToken?: string;
  accountName?: string;
  accountKey?: string;
}

// The SDK's default waits 4 s, 8 s, 16 s between tries; inlet retries whole units itself, so
// the SDK only smooths over short blips and a dead server is reported within seconds.
const PIPELINE: BlobServiceClientOptions = {
  retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 5_000 },
};

const COMBINATIONS = [
  ['connectionString'],
  ['accountUrl', 'sasToken'],
  ['accountUrl', 'accountName', 'accountKey'],
] as const;

/** Builds the service client from the one credential combination given, refusing mixtures. */
export function azureServiceClient(options: AzureCredentialOptions): BlobServiceClient {
  const given = (Object.keys(options) as (keyof AzureCredentialOptions)[]).filter(
    (name) => CREDENTIAL_KEYS.has(name) && options[name],
  );
  const match = COMBINATIONS.find(
    (combination) => combination.length === given.length && combination.every((name) => given.includes(name)),
  );
  if (!match) {
    throw new InletError(
      'INLET_E_JOB_INVALID',
      'azure_blob needs exactly one of: connection_string; account_url + sas_token; ' +
        `account_url + account_name + account_key (given: ${given.map(snakeCase).join(', ') || 'none'})`,
      { details: { given: given.map(snakeCase) } },
    );
  }
  if (options.connectionString)
    return BlobServiceClient.fromConnectionString(options.connectionString, PIPELINE);
  const url = options.accountUrl!.replace(/\/+$/, '');
  if (options.sasToken)
    return new BlobServiceClient(`${url}?${options.sasToken.replace(/^\?/, '')}`, undefined, PIPELINE);
  const key = new StorageSharedKeyCredential(options.accountName!, options.accountKey!);
  return new BlobServiceClient(url, key, PIPELINE);
}

const CREDENTIAL_KEYS = new Set<string>(COMBINATIONS.flat());

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
