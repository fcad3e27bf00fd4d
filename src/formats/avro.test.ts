import assert from 'node:assert/strict';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { crc32, gzipSync, zstdCompressSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import avro from 'avsc';
import * as snappy from 'snappyjs';
import type { InletError } from '../core/errors.ts';
import { avroFormatSchema, avroToNdjson } from './avro.ts';
import { assertConversionFails } from './conversion-test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'inlet-avro-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BIG = 2n ** 53n + 1n;

/** avsc's default long refuses values beyond 2^53; this one writes bigints exactly. */
const exactLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (value: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(value);
    return buf;
  },
  fromJSON: BigInt,
  toJSON: String,
  isValid: (value: unknown) => typeof value === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/** Writes logical-type values as given, and keeps the annotations in the file's schema. */
class KeepLogicalType extends avro.types.LogicalType {
  readonly attributes: { precision?: number; scale?: number };

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    this.attributes = schema as { precision?: number; scale?: number };
  }

  protected override _fromValue(value: unknown): unknown {
    return value;
  }

  protected override _toValue(value: unknown): unknown {
    return value;
  }

  protected override _export(schema: avro.Schema): void {
    Object.assign(schema as object, { precision: this.attributes.precision, scale: this.attributes.scale });
  }
}

const ORDER_SCHEMA = {
  type: 'record',
  name: 'Order',
  namespace: 'com.example',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'customer', type: 'string' },
    { name: 'payload', type: 'bytes' },
    { name: 'checksum', type: { type: 'fixed', name: 'Checksum', size: 4 } },
    { name: 'created', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'updated', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }] },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'] } },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'counts', type: { type: 'map', values: 'int' } },
    {
      name: 'address',
      type: ['null', { type: 'record', name: 'Address', fields: [{ name: 'city', type: 'string' }] }],
    },
    { name: 'ratio', type: 'double' },
  ],
};

const ORDERS = [
  {
    id: BIG,
    customer: 'Zoë',
    payload: Buffer.from([0, 1, 2, 255]),
    checksum: Buffer.from('abcd'),
    created: 1709296200123,
    updated: 1709296200123456,
    day: 19783,
    price: Buffer.from([0x30, 0x39]),
    status: 'PAID',
    tags: ['a', 'b'],
    counts: { x: 1 },
    address: { city: 'Oslo' },
    ratio: 0.5,
  },
  {
    id: -(2n ** 63n),
    customer: '',
    payload: Buffer.alloc(0),
    checksum: Buffer.from([0, 0, 0, 0]),
    created: -1,
    updated: null,
    day: -1,
    price: Buffer.from([0xfb]),
    status: 'NEW',
    tags: [],
    counts: {},
    address: null,
    ratio: Number.NaN,
  },
];

const EXPECTED = [
  '{"id":9007199254740993,"customer":"Zoë","payload":"AAEC/w==","checksum":"YWJjZA==",' +
    '"created":"2024-03-01T12:30:00.123Z","updated":"2024-03-01T12:30:00.123456Z","day":"2024-03-01",' +
    '"price":"123.45","status":"PAID","tags":["a","b"],"counts":{"x":1},"address":{"city":"Oslo"},"ratio":0.5}',
  '{"id":-9223372036854775808,"customer":"","payload":"","checksum":"AAAAAA==",' +
    '"created":"1969-12-31T23:59:59.999Z","updated":null,"day":"1969-12-31",' +
    '"price":"-0.05","status":"NEW","tags":[],"counts":{},"address":null,"ratio":"NaN"}',
  '',
].join('\n');

const CODECS = {
  snappy: (buf: Buffer, cb: (error: Error | null, out?: Buffer) => void) => {
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc32(buf));
    cb(null, Buffer.concat([Buffer.from(snappy.compress(buf)), checksum]));
  },
  zstandard: (buf: Buffer, cb: (error: Error | null, out?: Buffer) => void) =>
    cb(null, zstdCompressSync(buf)),
  bzip2: (buf: Buffer, cb: (error: Error | null, out?: Buffer) => void) => cb(null, buf),
};

let fileCounter = 0;
async function writeAvro(
  schema: object,
  records: unknown[],
  options: { codec?: string; blockSize?: number; name?: string } = {},
): Promise<string> {
  fileCounter += 1;
  const path = join(dir, `${fileCounter}-${options.name ?? 'data.avro'}`);
  const type = avro.Type.forSchema(schema as avro.Schema, {
    registry: { long: exactLong },
    logicalTypes: {
      'timestamp-millis': KeepLogicalType,
      'timestamp-micros': KeepLogicalType,
      date: KeepLogicalType,
      decimal: KeepLogicalType,
    },
  });
  const encoder = new avro.streams.BlockEncoder(type, {
    codec: options.codec ?? 'deflate',
    codecs: { ...avro.streams.BlockEncoder.defaultCodecs(), ...CODECS },
    blockSize: options.blockSize ?? 65536,
    writeHeader: 'always',
  });
  const written = pipeline(encoder, createWriteStream(path));
  for (const record of records) encoder.write(record);
  encoder.end();
  await written;
  return path;
}

async function convert(input: string) {
  const output = `${input}.ndjson`;
  const { records } = await avroToNdjson(input, output, avroFormatSchema.parse({ type: 'avro' }));
  return { records, output, text: readFileSync(output, 'utf8') };
}

async function assertParseError(input: string, message: RegExp): Promise<InletError> {
  const output = `${input}.ndjson`;
  return assertConversionFails(
    avroToNdjson(input, output, avroFormatSchema.parse({ type: 'avro' })),
    output,
    'INLET_E_PARSE',
    message,
  );
}

/** Many small blocks, so files can be cut between and inside blocks. */
async function manyBlocks(): Promise<string> {
  const schema = { type: 'record', name: 'Row', fields: [{ name: 'n', type: 'long' }] };
  const rows = Array.from({ length: 1000 }, (_, i) => ({ n: BigInt(i) }));
  return writeAvro(schema, rows, { codec: 'null', blockSize: 100 });
}

describe('avroToNdjson', () => {
  it('writes exact longs, base64 bytes, ISO timestamps, dates, decimals, unions and nested records', async () => {
    const { records, text } = await convert(await writeAvro(ORDER_SCHEMA, ORDERS));
    assert.equal(records, 2);
    assert.equal(text, EXPECTED);
  });

  it('stages NDJSON that DuckDB reads back with longs beyond 2^53 intact', async () => {
    const { output } = await convert(await writeAvro(ORDER_SCHEMA, ORDERS));
    const instance = await DuckDBInstance.create(':memory:');
    try {
      const connection = await instance.connect();
      const reader = await connection.runAndReadAll(
        `SELECT id, created::TIMESTAMP AS created FROM read_json('${output}', format = 'newline_delimited', sample_size = -1)`,
      );
      const rows = reader.getRowObjectsJS();
      // As a double, 2^53 + 1 would come back as 2^53.
      assert.equal(BigInt(rows[0].id as bigint), BIG);
      assert.equal(BigInt(rows[1].id as bigint), -(2n ** 63n));
      assert.equal((rows[0].created as Date).toISOString(), '2024-03-01T12:30:00.123Z');
      connection.closeSync();
    } finally {
      instance.closeSync();
    }
  });

  it('reads the null, snappy and zstandard codecs, and gzip-compressed files', async () => {
    for (const codec of ['null', 'snappy', 'zstandard']) {
      assert.equal((await convert(await writeAvro(ORDER_SCHEMA, ORDERS, { codec }))).text, EXPECTED, codec);
    }
    const deflated = readFileSync(await writeAvro(ORDER_SCHEMA, ORDERS));
    const gz = join(dir, 'orders.avro.gz');
    writeFileSync(gz, gzipSync(deflated));
    assert.equal((await convert(gz)).text, EXPECTED);
  });

  it('reads many blocks and recursive schemas', async () => {
    const { records, text } = await convert(await manyBlocks());
    assert.equal(records, 1000);
    assert.equal(text.split('\n')[999], '{"n":999}');
    const list = {
      type: 'record',
      name: 'Node',
      fields: [
        { name: 'value', type: 'int' },
        { name: 'next', type: ['null', 'Node'] },
      ],
    };
    const chain = { value: 1, next: { value: 2, next: null } };
    assert.equal(
      (await convert(await writeAvro(list, [chain]))).text,
      '{"value":1,"next":{"value":2,"next":null}}\n',
    );
    const none = await convert(await writeAvro(list, []));
    assert.deepEqual([none.records, none.text], [0, '']);
  });

  it('refuses a file truncated inside a block, naming the block and the records read', async () => {
    const bytes = readFileSync(await manyBlocks());
    const truncated = join(dir, 'truncated.avro');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 25));
    const error = await assertParseError(
      truncated,
      /truncated: it ends inside block \d+, after \d+ complete records/,
    );
    assert.ok((error.details.record as number) > 900);
  });

  it('refuses a file truncated inside its header, and files that are not Avro', async () => {
    const bytes = readFileSync(await manyBlocks());
    const header = join(dir, 'header.avro');
    writeFileSync(header, bytes.subarray(0, 30));
    await assertParseError(header, /ends inside its header/);
    const csv = join(dir, 'data.avro');
    writeFileSync(csv, 'n\n1\n2\n');
    await assertParseError(csv, /not an Avro object container file/);
    const empty = join(dir, 'empty.avro');
    writeFileSync(empty, '');
    await assertParseError(empty, /the file is empty/);
  });

  it('refuses corrupt data without crashing or exhausting memory', async () => {
    const schema = {
      type: 'record',
      name: 'R',
      fields: [{ name: 'values', type: { type: 'array', items: 'long' } }],
    };
    const bytes = Buffer.from(
      readFileSync(await writeAvro(schema, [{ values: [1n, 2n] }], { codec: 'null' })),
    );
    // The record is the array count 2 (zigzag 0x04), items 1 and 2 (0x02 0x04), end 0x00; make the count 2^27.
    const at = bytes.lastIndexOf(Buffer.from([0x04, 0x02, 0x04, 0x00]));
    bytes.set([0xfe, 0xff, 0xff, 0x7f], at);
    const hugeCount = join(dir, 'huge-count.avro');
    writeFileSync(hugeCount, bytes);
    const error = await assertParseError(
      hugeCount,
      /record 1 \(block 1\) is corrupt: an array or map claims/,
    );
    assert.deepEqual(error.details, { block: 1, record: 1 });

    const other = Buffer.from(readFileSync(await manyBlocks()));
    other[other.length - 1] ^= 0xff;
    const badSync = join(dir, 'bad-sync.avro');
    writeFileSync(badSync, other);
    await assertParseError(badSync, /sync marker does not match/);
  });

  it('names a codec it cannot read', async () => {
    await assertParseError(
      await writeAvro(ORDER_SCHEMA, ORDERS, { codec: 'bzip2' }),
      /codec "bzip2" is not supported/,
    );
  });

  it('stops when aborted and rejects with the abort reason', async () => {
    const input = await manyBlocks();
    const output = `${input}.aborted.ndjson`;
    const controller = new AbortController();
    const reason = new Error('run cancelled');
    const running = avroToNdjson(input, output, avroFormatSchema.parse({ type: 'avro' }), controller.signal);
    controller.abort(reason);
    await assert.rejects(running, (error) => error === reason);
    assert.equal(existsSync(output), false);
  });
});
