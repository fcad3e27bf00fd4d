import { z } from 'zod';
import type { SqlSession } from '../core/connector.ts';
import { literal } from '../engine/sql.ts';
import type { DecodedUnit, DecodeRequest } from './decoded-unit.ts';
import { decodeWithReader } from './json.ts';

export const parquetFormatSchema = z
  .object({ type: z.literal('parquet') })
  .strict()
  .describe('Apache Parquet. A truncated or corrupt file fails its unit.');

export function decodeParquet(session: SqlSession, request: DecodeRequest): Promise<DecodedUnit> {
  return decodeWithReader(session, request, `read_parquet(${literal(request.path)})`);
}
