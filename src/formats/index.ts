import { join } from 'node:path';
import { z } from 'zod';
import type { FormatSpec, SqlSession } from '../core/connector.ts';
import { InletError } from '../core/errors.ts';
import { avroFormatSchema, avroToNdjson } from './avro.ts';
import { csvFormatSchema, decodeCsv } from './csv.ts';
import type { DecodedUnit, DecodeRequest } from './decoded-unit.ts';
import { excelFormatSchema, excelToNdjson } from './excel.ts';
import { isCompressed, openDecompressedStream } from './input-stream.ts';
import {
  decodeJson,
  decodeNdjson,
  decodeStagedNdjson,
  jsonFormatSchema,
  ndjsonFormatSchema,
} from './json.ts';
import { decodeParquet, parquetFormatSchema } from './parquet.ts';
import { xmlFormatSchema, xmlToNdjson } from './xml.ts';

export type { DecodedUnit, DecodeRequest } from './decoded-unit.ts';

/** The `format:` block of a file-like source. */
export const formatSchema = z.discriminatedUnion('type', [
  csvFormatSchema,
  ndjsonFormatSchema,
  jsonFormatSchema,
  xmlFormatSchema,
  parquetFormatSchema,
  avroFormatSchema,
  excelFormatSchema,
]);

export type Format = z.output<typeof formatSchema>;

/** Decodes one landed unit into a table of the run's DuckDB session. */
export async function decodeUnit(
  session: SqlSession,
  request: DecodeRequest,
  spec: FormatSpec,
): Promise<DecodedUnit> {
  const format = formatSchema.parse(spec);
  if (format.type === 'csv' || format.type === 'ndjson' || format.type === 'json')
    await verifyCompressed(request);
  switch (format.type) {
    case 'csv':
      return decodeCsv(session, request, format);
    case 'ndjson':
      return decodeNdjson(session, request);
    case 'json':
      return decodeJson(session, request);
    case 'parquet':
      return decodeParquet(session, request);
    case 'xml':
      return decodeStaged(session, request, (out) => xmlToNdjson(request.path, out, format, request.signal));
    case 'excel':
      return decodeStaged(session, request, (out) =>
        excelToNdjson(request.path, out, format, request.signal),
      );
    case 'avro':
      return decodeStaged(session, request, (out) => avroToNdjson(request.path, out, format, request.signal));
    default:
      throw new InletError('INLET_E_INTERNAL', `no decoder for format ${(format as FormatSpec).type}`);
  }
}

/**
 * DuckDB reads a truncated gzip or zstd file as if it simply ended there, which would
 * drop the rest of the data without a word; decompressing it once through zlib first
 * turns that into a failed unit with the reason.
 */
async function verifyCompressed(request: DecodeRequest): Promise<void> {
  if (!isCompressed(request.path)) return;
  for await (const _chunk of openDecompressedStream(request.path)) request.signal.throwIfAborted();
}

/** Formats DuckDB cannot read offline are streamed to NDJSON in the spool first. */
async function decodeStaged(
  session: SqlSession,
  request: DecodeRequest,
  convert: (outputPath: string) => Promise<{ records: number }>,
): Promise<DecodedUnit> {
  const staged = join(request.spoolDir, `${request.tablePrefix}.ndjson`);
  await convert(staged);
  return decodeStagedNdjson(session, { ...request, path: staged });
}
