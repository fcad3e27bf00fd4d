import { Readable } from 'node:stream';

/**
 * Re-emits a download's mid-stream failures (a dropped connection) as the errors `map` makes
 * of them, so that a reader sees the same transient InletError as a failed request.
 */
export function mapStreamErrors(body: NodeJS.ReadableStream, map: (error: unknown) => Error): Readable {
  async function* relay() {
    try {
      yield* body;
    } catch (error) {
      throw map(error);
    }
  }
  return Readable.from(relay(), { objectMode: false });
}
