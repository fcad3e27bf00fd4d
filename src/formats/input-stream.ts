import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline, Readable, type Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { InletError } from '../core/errors.ts';

/** Compression inlet undoes by file extension, with the decompressor for each. */
const DECOMPRESSORS: ReadonlyArray<{ extensions: readonly string[]; name: string; create: () => Transform }> =
  [
    { extensions: ['.gz', '.gzip'], name: 'gzip', create: createGunzip },
    { extensions: ['.zst', '.zstd'], name: 'zstd', create: createZstdDecompress },
  ];

/**
 * Opens a file for streaming reading, decompressing `.gz` and `.zst` files on the fly.
 * Corrupt or truncated compressed data surfaces as an INLET_E_PARSE error on the stream;
 * destroying the returned stream closes the file.
 */
export function openDecompressedStream(path: string): Readable {
  const codec = compressionOf(path);
  if (codec === undefined) return createReadStream(path);
  const decompressor = codec.create();
  pipeline(createReadStream(path), decompressor, () => {});
  return Readable.from(describeErrors(decompressor, codec.name, basename(path)), { objectMode: false });
}

/** True when {@link openDecompressedStream} decompresses the file (by its extension). */
export function isCompressed(path: string): boolean {
  return compressionOf(path) !== undefined;
}

function compressionOf(path: string): (typeof DECOMPRESSORS)[number] | undefined {
  const lower = path.toLowerCase();
  return DECOMPRESSORS.find((d) => d.extensions.some((extension) => lower.endsWith(extension)));
}

/** zlib reports bad data with bare codes (Z_DATA_ERROR, ZSTD_error_…); say what they mean for the user. */
async function* describeErrors(decompressor: Transform, codec: string, file: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of decompressor) yield chunk as Buffer;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ZSTD_'))) {
      throw new InletError(
        'INLET_E_PARSE',
        `${file}: corrupt or truncated ${codec} data (${(error as Error).message})`,
        {
          cause: error,
          details: { compression: codec },
        },
      );
    }
    throw error;
  } finally {
    decompressor.destroy();
  }
}
