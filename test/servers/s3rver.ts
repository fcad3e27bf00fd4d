import { freePort } from '../helpers.ts';
import { spawnServer } from './spawn-server.ts';

/** An s3rver process on loopback and the credentials it accepts. */
export interface S3Server {
  endpoint: string;
  accessKeyId: 'S3RVER';
  secretAccessKey: 'S3RVER';
  region: 'us-east-1';
  stop(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 and a free port, in a temp folder, with `buckets` created. */
export async function startS3Server(options: { buckets: string[] }): Promise<S3Server> {
  const port = await freePort();
  const server = await spawnServer(
    's3rver',
    (dir) => [
      '-d',
      dir,
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '--silent',
      ...options.buckets.flatMap((bucket) => ['--configure-bucket', bucket]),
    ],
    port,
  );
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: 'us-east-1',
    stop: server.stop,
  };
}
