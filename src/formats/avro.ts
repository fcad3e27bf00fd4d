import { isUtf8 } from 'node:buffer';
import { basename } from 'node:path';
import { addAbortSignal } from 'node:stream';
import { promisify } from 'node:util';
import { crc32, inflateRaw, zstdDecompress } from 'node:zlib';
import avro from 'avsc';
import * as snappy from 'snappyjs';
import { z } from 'zod';
import { InletError } from '../core/errors.ts';
import { openDecompressedStream } from './input-stream.ts';
import { abandonConversion, createNdjsonWriter, type NdjsonWriter } from './ndjson-writer.ts';

export const avroFormatSchema = z
  .object({ type: z.literal('avro') })
  .strict()
  .describe(
    'Avro object container files (codecs null, deflate, snappy, zstandard), read as a stream. Longs beyond 2^53 stay ' +
      'exact, bytes and fixed become base64, timestamps ISO-8601 strings, dates YYYY-MM-DD, decimals strings.',
  );

export type AvroFormat = z.output<typeof avroFormatSchema>;

const MAGIC = Buffer.from('Obj\x01', 'latin1');
const SYNC_BYTES = 16;
const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/** Real writers make blocks of kilobytes to a few megabytes; beyond this a block size is taken as corruption. */
const MAX_BLOCK_BYTES = 256 * 1024 * 1024;
const MAX_BLOCK_RECORDS = 2 ** 31;
/** Values of zero encoded bytes (nulls, empty records) one block may hold: a corrupt count must not exhaust memory. */
const MAX_EMPTY_VALUES_PER_BLOCK = 1_000_000;
const MAX_DECIMAL_BYTES = 64;
const CODECS = ['null', 'deflate', 'snappy', 'zstandard'];

/**
 * Streams the records of an Avro object container file to an NDJSON file, one JSON object per line.
 * Throws INLET_E_PARSE for a file that is not Avro, truncated, or corrupt.
 */
export async function avroToNdjson(
  inputPath: string,
  outputPath: string,
  _options: AvroFormat,
  signal?: AbortSignal,
): Promise<{ records: number }> {
  signal?.throwIfAborted();
  const file = basename(inputPath);
  const input = openDecompressedStream(inputPath);
  if (signal !== undefined) addAbortSignal(signal, input);
  const writer = createNdjsonWriter(outputPath);
  const queue = createChunkQueue();
  let container: Container | undefined;
  const position = { blocks: 0, records: 0 };
  try {
    for await (const chunk of input) {
      queue.push(chunk as Buffer);
      container ??= readHeader(queue, file);
      while (container !== undefined) {
        const block = takeBlock(queue, container, file, position.blocks + 1);
        if (block === undefined) break;
        position.blocks += 1;
        const data = await decompress(container.codec, block.data, file, position.blocks);
        decodeBlock(container, data, block.count, writer, file, position);
        await writer.flush(signal);
        signal?.throwIfAborted();
      }
    }
    if (container === undefined) {
      throw parseError(
        file,
        queue.length === 0 ? 'the file is empty' : 'the file ends inside its header (truncated)',
      );
    }
    if (queue.length > 0) {
      throw parseError(
        file,
        `the file is truncated: it ends inside block ${position.blocks + 1}, after ${position.records} complete records`,
        { block: position.blocks + 1, record: position.records + 1 },
      );
    }
    return { records: await writer.close() };
  } catch (error) {
    return abandonConversion(input, writer, error, signal);
  }
}

interface Container {
  codec: string;
  sync: Buffer;
  read: Reader;
}

type Reader = (cursor: Cursor) => unknown;

/** Thrown when a read needs bytes beyond the end: more input may come (header) or the block is corrupt. */
class Incomplete extends Error {}

/** A value that cannot be right: a negative length, an unknown union branch, invalid UTF-8. */
class Corrupt extends Error {}

/** Reads Avro's binary encoding from a buffer, never past `end`. */
class Cursor {
  buf: Buffer;
  pos: number;
  /** What remains of the block's allowance of zero-byte values. */
  emptyValues = MAX_EMPTY_VALUES_PER_BLOCK;

  constructor(buf: Buffer, pos: number) {
    this.buf = buf;
    this.pos = pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** A zigzag varint: a number when it is a safe integer, else an exact bigint. */
  long(): number | bigint {
    const buf = this.buf;
    let pos = this.pos;
    let value = 0;
    let scale = 1;
    let byte: number;
    do {
      if (pos >= buf.length) throw new Incomplete();
      byte = buf[pos++];
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80 && scale < 2 ** 49);
    if (byte & 0x80) return this.bigLong();
    this.pos = pos;
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  private bigLong(): number | bigint {
    let value = 0n;
    for (let i = 0; ; i += 1) {
      if (i === 10) throw new Corrupt('a long is longer than 10 bytes');
      if (this.pos >= this.buf.length) throw new Incomplete();
      const byte = this.buf[this.pos++];
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) break;
    }
    if (value >= 1n << 64n) throw new Corrupt('a long is out of range');
    const decoded = (value >> 1n) ^ -(value & 1n);
    return decoded >= BigInt(Number.MIN_SAFE_INTEGER) && decoded <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(decoded)
      : decoded;
  }

  int(): number {
    const value = this.long();
    if (typeof value !== 'number' || value < -(2 ** 31) || value >= 2 ** 31)
      throw new Corrupt('an int is out of range');
    return value;
  }

  /** A count or length: a long that must be a safe integer. */
  count(): number {
    const value = this.long();
    if (typeof value !== 'number') throw new Corrupt('a count or length is out of range');
    return value;
  }

  take(length: number): Buffer {
    if (length < 0) throw new Corrupt('a negative length');
    if (length > this.remaining) throw new Incomplete();
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return bytes;
  }

  bytes(): Buffer {
    return this.take(this.count());
  }

  string(): string {
    const bytes = this.bytes();
    if (!isUtf8(bytes)) throw new Corrupt('a string is not valid UTF-8');
    return bytes.toString('utf8');
  }

  boolean(): boolean {
    const byte = this.take(1)[0];
    if (byte > 1) throw new Corrupt('a boolean is neither 0 nor 1');
    return byte === 1;
  }

  float(): number {
    return this.take(4).readFloatLE(0);
  }

  double(): number {
    return this.take(8).readDoubleLE(0);
  }

  /** Checks a block of `count` array or map items of at least `minBytes` each can fit. */
  checkItems(count: number, minBytes: number): void {
    if (minBytes === 0) this.emptyValues -= count;
    if (minBytes > 0 ? count * minBytes > this.remaining : this.emptyValues < 0) {
      throw new Corrupt(`an array or map claims ${count} items, more than its block can hold`);
    }
  }
}

/** Buffered input; blocks are sliced out once complete. */
interface ChunkQueue {
  readonly length: number;
  push(chunk: Buffer): void;
  /** The first `n` or more bytes as one buffer (n ≤ length), joining chunks only when needed. */
  peek(n: number): Buffer;
  skip(n: number): void;
}

function createChunkQueue(): ChunkQueue {
  let chunks: Buffer[] = [];
  let length = 0;
  return {
    get length() {
      return length;
    },
    push(chunk) {
      chunks.push(chunk);
      length += chunk.length;
    },
    peek(n) {
      if (chunks[0].length >= n) return chunks[0];
      let count = 0;
      for (let bytes = 0; bytes < n; count += 1) bytes += chunks[count].length;
      const joined = Buffer.concat(chunks.slice(0, count));
      chunks.splice(0, count, joined);
      return joined;
    },
    skip(n) {
      length -= n;
      while (n > 0) {
        if (chunks[0].length > n) {
          chunks[0] = chunks[0].subarray(n);
          return;
        }
        n -= chunks[0].length;
        chunks.shift();
      }
      if (length === 0) chunks = [];
    },
  };
}

/** Parses the file header once it is complete: magic, metadata map (schema, codec), sync marker. */
function readHeader(queue: ChunkQueue, file: string): Container | undefined {
  const known = Math.min(queue.length, MAGIC.length);
  if (!queue.peek(known).subarray(0, known).equals(MAGIC.subarray(0, known))) {
    throw parseError(file, 'not an Avro object container file (it does not start with "Obj" 0x01)');
  }
  const cursor = new Cursor(queue.peek(queue.length), MAGIC.length);
  const meta = new Map<string, Buffer>();
  try {
    for (let count = cursor.count(); count !== 0; count = cursor.count()) {
      if (count < 0) cursor.long();
      for (let i = Math.abs(count); i > 0; i -= 1) meta.set(cursor.string(), cursor.bytes());
    }
    const sync = Buffer.from(cursor.take(SYNC_BYTES));
    queue.skip(cursor.pos);
    return { ...describeContainer(meta, file), sync };
  } catch (error) {
    if (error instanceof Incomplete && queue.length <= MAX_HEADER_BYTES) return undefined;
    if (error instanceof Incomplete)
      throw parseError(file, 'the header is larger than 16 MiB (corrupt file?)');
    if (error instanceof Corrupt) throw parseError(file, `the header is corrupt: ${error.message}`);
    throw error;
  }
}

function describeContainer(meta: Map<string, Buffer>, file: string): { codec: string; read: Reader } {
  const codec = meta.get('avro.codec')?.toString('utf8') || 'null';
  if (!CODECS.includes(codec)) {
    throw parseError(
      file,
      `the codec ${JSON.stringify(codec)} is not supported (supported: ${CODECS.join(', ')})`,
    );
  }
  const schemaText = meta.get('avro.schema');
  if (schemaText === undefined) throw parseError(file, 'the header has no avro.schema');
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(JSON.parse(schemaText.toString('utf8')), {
      wrapUnions: true,
      logicalTypes: Object.fromEntries(LOGICAL_TYPES.map((name) => [name, LogicalMarker])),
    });
  } catch (error) {
    throw parseError(file, `the schema in the header is invalid: ${(error as Error).message}`, {}, error);
  }
  return { codec, read: compileReader(type) };
}

/** Takes the next complete block off the queue, or returns undefined until it has fully arrived. */
function takeBlock(
  queue: ChunkQueue,
  container: Container,
  file: string,
  index: number,
): { count: number; data: Buffer } | undefined {
  if (queue.length === 0) return undefined;
  const cursor = new Cursor(queue.peek(Math.min(queue.length, 20)), 0);
  let count: number;
  let size: number;
  try {
    count = cursor.count();
    size = cursor.count();
  } catch (error) {
    if (error instanceof Incomplete) return undefined;
    throw parseError(file, `block ${index} is corrupt: ${(error as Error).message}`, { block: index });
  }
  if (count < 0 || count > MAX_BLOCK_RECORDS || size < 0 || size > MAX_BLOCK_BYTES) {
    throw parseError(file, `block ${index} is corrupt: it claims ${count} records in ${size} bytes`, {
      block: index,
    });
  }
  const total = cursor.pos + size + SYNC_BYTES;
  if (queue.length < total) return undefined;
  const bytes = queue.peek(total);
  if (!bytes.subarray(cursor.pos + size, total).equals(container.sync)) {
    throw parseError(file, `block ${index} is corrupt: its sync marker does not match the header's`, {
      block: index,
    });
  }
  // Copied: the queue's chunk may be shared with the next blocks, and decompression may be asynchronous.
  const data = Buffer.from(bytes.subarray(cursor.pos, cursor.pos + size));
  queue.skip(total);
  return { count, data };
}

const inflateRawAsync = promisify(inflateRaw);
const zstdDecompressAsync = promisify(zstdDecompress);

async function decompress(codec: string, data: Buffer, file: string, index: number): Promise<Buffer> {
  try {
    switch (codec) {
      case 'deflate':
        return await inflateRawAsync(data, { maxOutputLength: MAX_BLOCK_BYTES });
      case 'zstandard':
        return await zstdDecompressAsync(data, { maxOutputLength: MAX_BLOCK_BYTES });
      case 'snappy': {
        if (data.length < 4) throw new Error('snappy block without its checksum');
        const output = Buffer.from(snappy.uncompress(data.subarray(0, -4), MAX_BLOCK_BYTES));
        if (crc32(output) !== data.readUInt32BE(data.length - 4)) throw new Error('snappy checksum mismatch');
        return output;
      }
      default:
        return data;
    }
  } catch (error) {
    throw parseError(file, `block ${index} is corrupt: ${(error as Error).message}`, { block: index }, error);
  }
}

function decodeBlock(
  container: Container,
  data: Buffer,
  count: number,
  writer: NdjsonWriter,
  file: string,
  position: { blocks: number; records: number },
): void {
  const cursor = new Cursor(data, 0);
  for (let i = 0; i < count; i += 1) {
    let record: unknown;
    try {
      record = container.read(cursor);
    } catch (error) {
      const reason =
        error instanceof Incomplete ? 'the record runs past the end of its block' : (error as Error).message;
      throw parseError(
        file,
        `record ${position.records + 1} (block ${position.blocks}) is corrupt: ${reason}`,
        { block: position.blocks, record: position.records + 1 },
        error,
      );
    }
    writer.write(record);
    position.records += 1;
  }
  if (cursor.remaining !== 0) {
    throw parseError(
      file,
      `block ${position.blocks} is corrupt: ${cursor.remaining} bytes follow its ${count} records`,
      {
        block: position.blocks,
      },
    );
  }
}

function parseError(
  file: string,
  reason: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): InletError {
  return new InletError('INLET_E_PARSE', `${file}: ${reason}`, { details, cause });
}

const LOGICAL_TYPES = [
  'date',
  'time-millis',
  'time-micros',
  'timestamp-millis',
  'timestamp-micros',
  'timestamp-nanos',
  'local-timestamp-millis',
  'local-timestamp-micros',
  'local-timestamp-nanos',
  'decimal',
  'uuid',
  'duration',
];

/**
 * Lets avsc keep a logical type's name and attributes in the parsed schema; inlet decodes the
 * values itself, so avsc's value conversion is the identity.
 */
class LogicalMarker extends avro.types.LogicalType {
  readonly attributes: Record<string, unknown>;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    this.attributes = schema as Record<string, unknown>;
  }

  protected override _fromValue(value: unknown): unknown {
    return value;
  }

  protected override _toValue(value: unknown): unknown {
    return value;
  }

  protected override _resolve(): undefined {
    return undefined;
  }
}

/** Compiles a parsed schema into a reader producing JSON-ready values. */
function compileReader(root: avro.Type): Reader {
  const readers = new Map<avro.Type, Reader>();
  const sizes = new Map<avro.Type, number>();

  const compile = (type: avro.Type): Reader => {
    const known = readers.get(type);
    if (known !== undefined) return known;
    if (type instanceof LogicalMarker) return compileLogical(type) ?? compile(type.underlyingType);
    switch (type.typeName) {
      case 'null':
        return () => null;
      case 'boolean':
        return (c) => c.boolean();
      case 'int':
        return (c) => c.int();
      case 'long':
        return (c) => exactInteger(c.long());
      case 'float':
        return (c) => jsonNumber(c.float());
      case 'double':
        return (c) => jsonNumber(c.double());
      case 'bytes':
        return (c) => c.bytes().toString('base64');
      case 'string':
        return (c) => c.string();
      case 'fixed': {
        const size = (type as avro.types.FixedType).size;
        return (c) => c.take(size).toString('base64');
      }
      case 'enum': {
        const symbols = (type as avro.types.EnumType).symbols;
        return (c) => {
          const symbol = symbols[c.int()];
          if (symbol === undefined) throw new Corrupt('an enum index is out of range');
          return symbol;
        };
      }
      case 'array': {
        const itemsType = (type as avro.types.ArrayType).itemsType;
        const item = compile(itemsType);
        const itemBytes = minSize(itemsType);
        return (c) => {
          const items: unknown[] = [];
          for (let count = c.count(); count !== 0; count = c.count()) {
            if (count < 0) c.long();
            c.checkItems(Math.abs(count), itemBytes);
            for (let i = Math.abs(count); i > 0; i -= 1) items.push(item(c));
          }
          return items;
        };
      }
      case 'map': {
        const valuesType = (type as avro.types.MapType).valuesType as avro.Type;
        const value = compile(valuesType);
        const entryBytes = 1 + minSize(valuesType);
        return (c) => {
          const map: Record<string, unknown> = Object.create(null);
          for (let count = c.count(); count !== 0; count = c.count()) {
            if (count < 0) c.long();
            c.checkItems(Math.abs(count), entryBytes);
            for (let i = Math.abs(count); i > 0; i -= 1) {
              const key = c.string();
              map[key] = value(c);
            }
          }
          return map;
        };
      }
      case 'record':
      case 'error': {
        // Records may refer to themselves: register before compiling the fields.
        let fields: Array<[string, Reader]> = [];
        const read: Reader = (c) => {
          // Null prototype: a field named __proto__ must stay an ordinary key.
          const record: Record<string, unknown> = Object.create(null);
          for (const [name, field] of fields) record[name] = field(c);
          return record;
        };
        readers.set(type, read);
        fields = (type as avro.types.RecordType).fields.map((field) => [field.name, compile(field.type)]);
        return read;
      }
      default: {
        // Unions: the value of the branch, unwrapped (JSON says which type it is).
        const branches = (type as avro.types.WrappedUnionType).types.map(compile);
        return (c) => {
          const branch = branches[c.int()];
          if (branch === undefined) throw new Corrupt('a union branch index is out of range');
          return branch(c);
        };
      }
    }
  };

  /** The fewest bytes a value of the type takes, to refuse counts a block cannot hold. */
  const minSize = (type: avro.Type): number => {
    const known = sizes.get(type);
    if (known !== undefined) return known;
    sizes.set(type, 0);
    let size: number;
    if (type instanceof LogicalMarker) size = minSize(type.underlyingType);
    else if (type.typeName === 'null') size = 0;
    else if (type.typeName === 'float') size = 4;
    else if (type.typeName === 'double') size = 8;
    else if (type.typeName === 'fixed') size = (type as avro.types.FixedType).size;
    else if (type.typeName === 'record' || type.typeName === 'error') {
      size = (type as avro.types.RecordType).fields.reduce((sum, field) => sum + minSize(field.type), 0);
    } else size = 1;
    sizes.set(type, size);
    return size;
  };

  return compile(root);
}

/** Readers for logical types on the underlying type the spec allows; others fall back to that type. */
function compileLogical(type: LogicalMarker): Reader | undefined {
  const logical = type.typeName.slice('logical:'.length);
  const underlying = type.underlyingType.typeName;
  const fixedSize = underlying === 'fixed' ? (type.underlyingType as avro.types.FixedType).size : -1;
  switch (`${logical} ${underlying}`) {
    case 'date int':
      return (c) => isoDate(c.int());
    case 'time-millis int':
      return (c) => timeOfDay(c.int(), 3);
    case 'time-micros long':
      return (c) => timeOfDay(c.long(), 6);
    case 'timestamp-millis long':
      return (c) => isoTimestamp(c.long(), 0, true);
    case 'timestamp-micros long':
      return (c) => isoTimestamp(c.long(), 3, true);
    case 'timestamp-nanos long':
      return (c) => isoTimestamp(c.long(), 6, true);
    case 'local-timestamp-millis long':
      return (c) => isoTimestamp(c.long(), 0, false);
    case 'local-timestamp-micros long':
      return (c) => isoTimestamp(c.long(), 3, false);
    case 'local-timestamp-nanos long':
      return (c) => isoTimestamp(c.long(), 6, false);
    case 'decimal bytes':
    case 'decimal fixed': {
      const scale = type.attributes.scale ?? 0;
      if (!Number.isInteger(scale) || (scale as number) < 0) return undefined;
      return (c) => decimalString(fixedSize >= 0 ? c.take(fixedSize) : c.bytes(), scale as number);
    }
    case 'uuid fixed':
      return fixedSize === 16 ? (c) => uuidString(c.take(16)) : undefined;
    case 'duration fixed':
      return fixedSize === 12 ? (c) => duration(c.take(12)) : undefined;
    default:
      return undefined;
  }
}

/** Integers beyond 2^53 are written as exact JSON number literals (DuckDB reads them into BIGINT). */
function exactInteger(value: number | bigint): unknown {
  return typeof value === 'bigint' ? (JSON as unknown as JsonWithRaw).rawJSON(value.toString()) : value;
}

/** JSON.rawJSON (V8, Node 21+) is not in TypeScript's lib yet. */
interface JsonWithRaw {
  rawJSON(text: string): unknown;
}

/** JSON has no NaN or infinities: they are kept as the strings DuckDB casts back to DOUBLE. */
function jsonNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

const MS_PER_DAY = 86_400_000;

function isoDate(days: number): string | number {
  const date = new Date(days * MS_PER_DAY);
  if (Number.isNaN(date.getTime())) return days;
  const iso = date.toISOString();
  return iso.slice(0, iso.indexOf('T'));
}

/** `value` counts units of 10^-(3 + extraDigits) seconds since the epoch. */
function isoTimestamp(value: number | bigint, extraDigits: number, utc: boolean): unknown {
  let millis: number;
  let fraction = '';
  if (extraDigits === 0) {
    millis = Number(value);
  } else {
    const perMilli = 10n ** BigInt(extraDigits);
    const exact = BigInt(value);
    let rest = exact % perMilli;
    let whole = exact / perMilli;
    if (rest < 0n) {
      rest += perMilli;
      whole -= 1n;
    }
    millis = Number(whole);
    fraction = rest.toString().padStart(extraDigits, '0');
  }
  const date = new Date(millis);
  if (Number.isNaN(date.getTime())) return exactInteger(value);
  return `${date.toISOString().slice(0, -1)}${fraction}${utc ? 'Z' : ''}`;
}

/** `value` counts units of 10^-digits seconds since midnight. */
function timeOfDay(value: number | bigint, digits: number): unknown {
  const perSecond = 10n ** BigInt(digits);
  const exact = BigInt(value);
  if (exact < 0n || exact >= 86_400n * perSecond) return exactInteger(value);
  const seconds = exact / perSecond;
  const two = (n: bigint): string => n.toString().padStart(2, '0');
  const fraction = (exact % perSecond).toString().padStart(digits, '0');
  return `${two(seconds / 3600n)}:${two((seconds / 60n) % 60n)}:${two(seconds % 60n)}.${fraction}`;
}

/** A big-endian two's-complement unscaled integer, shown with `scale` decimals. */
function decimalString(bytes: Buffer, scale: number): string {
  if (bytes.length > MAX_DECIMAL_BYTES) throw new Corrupt(`a decimal of ${bytes.length} bytes`);
  if (bytes.length === 0) return '0';
  let unscaled = BigInt(`0x${bytes.toString('hex')}`);
  if (bytes[0] & 0x80) unscaled -= 1n << BigInt(bytes.length * 8);
  const sign = unscaled < 0n ? '-' : '';
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString();
  if (scale === 0) return sign + digits;
  const padded = digits.padStart(scale + 1, '0');
  return `${sign}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

function uuidString(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function duration(bytes: Buffer): { months: number; days: number; milliseconds: number } {
  return { months: bytes.readUInt32LE(0), days: bytes.readUInt32LE(4), milliseconds: bytes.readUInt32LE(8) };
}
