import { join } from 'node:path';
import { freePort } from '../helpers.ts';
import { spawnServer } from './spawn-server.ts';

// Azurite's built-in development account; its key is published in Azure's documentation.
const ACCOUNT_NAME = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** An Azurite blob service on loopback and the ways to sign in to its development account. */
export interface AzuriteServer {
  connectionString: string;
  accountUrl: string;
  accountName: 'devstoreaccount1';
  accountKey: string;
  stop(): Promise<void>;
}

/** Starts Azurite's blob service on 127.0.0.1 and a free port, storing into a temp folder. */
export async function startAzurite(): Promise<AzuriteServer> {
  const port = await freePort();
  const server = await spawnServer(
    'azurite-blob',
    (dir) => [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      join(dir, 'data'),
      '--skipApiVersionCheck',
      '--silent',
      '--loose',
    ],
    port,
  );
  const accountUrl = `http://127.0.0.1:${port}/${ACCOUNT_NAME}`;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT_NAME};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${accountUrl};`,
    accountUrl,
    accountName: ACCOUNT_NAME,
    accountKey: ACCOUNT_KEY,
    stop: server.stop,
  };
}
