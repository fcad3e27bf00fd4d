import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import { InletError } from '../core/errors.ts';

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END = 0x06064b50;
/** The end record is 22 bytes plus a comment of up to 65535. */
const MAX_END_SEARCH = 22 + 0xffff;
const READ_CHUNK_BYTES = 256 * 1024;
const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;
/** An OLE compound file: what Excel writes for password-protected workbooks and legacy .xls. */
const COMPOUND_FILE_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);

interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/**
 * Checks that a file is a whole, undamaged .xlsx archive: a ZIP whose every entry inflates to
 * its recorded size and checksum, holding xl/workbook.xml. exceljs's stream reader hangs on
 * some damaged entries and silently skips others, so it only ever gets verified archives.
 */
export async function verifyXlsxArchive(path: string, signal?: AbortSignal): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const magic = await readAt(handle, 0, Math.min(size, 8), path);
    describeNonZip(magic, path);
    const entries = await readCentralDirectory(handle, size, path);
    const names = new Set(entries.map((entry) => entry.name));
    if (!names.has('xl/workbook.xml')) {
      throw invalid(
        path,
        names.has('xl/workbook.bin')
          ? 'binary .xlsb workbooks are not supported; save it as .xlsx'
          : 'it is a ZIP archive but not an Excel workbook (there is no xl/workbook.xml)',
      );
    }
    for (const entry of entries) {
      signal?.throwIfAborted();
      await verifyEntry(handle, entry, path, signal);
    }
  } finally {
    await handle.close();
  }
}

function describeNonZip(magic: Buffer, path: string): void {
  if (magic.length === 0) throw invalid(path, 'the file is empty');
  if (magic.equals(COMPOUND_FILE_MAGIC)) {
    throw invalid(
      path,
      'it is a password-protected workbook or a legacy .xls file; save it as an .xlsx without a password',
    );
  }
  if (magic.length < 4 || magic.readUInt32LE(0) !== LOCAL_HEADER) {
    const start = magic.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    throw invalid(
      path,
      `it is not a ZIP archive, as every .xlsx file is (it starts with ${JSON.stringify(start)})`,
    );
  }
}

async function readCentralDirectory(handle: FileHandle, size: number, path: string): Promise<ZipEntry[]> {
  const tailStart = Math.max(0, size - MAX_END_SEARCH);
  const tail = await readAt(handle, tailStart, size - tailStart, path);
  let end = -1;
  for (let i = tail.length - 22; i >= 0; i -= 1) {
    if (
      tail.readUInt32LE(i) === END_OF_CENTRAL_DIRECTORY &&
      i + 22 + tail.readUInt16LE(i + 20) <= tail.length
    ) {
      end = i;
      break;
    }
  }
  if (end < 0) throw invalid(path, 'the ZIP archive has no end record: the file is truncated or damaged');
  let count = tail.readUInt16LE(end + 10);
  let directorySize = tail.readUInt32LE(end + 12);
  let directoryOffset = tail.readUInt32LE(end + 16);
  if (tail.readUInt16LE(end + 4) !== 0 || tail.readUInt16LE(end + 6) !== 0) {
    throw invalid(path, 'multi-part (spanned) ZIP archives are not supported');
  }
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const locatorAt = tailStart + end - 20;
    const locator = await readAt(handle, locatorAt, 20, path);
    if (locator.readUInt32LE(0) !== ZIP64_END_LOCATOR) throw invalid(path, 'the ZIP64 end record is missing');
    const zip64 = await readAt(handle, toSafeNumber(locator.readBigUInt64LE(8), path), 56, path);
    if (zip64.readUInt32LE(0) !== ZIP64_END) throw invalid(path, 'the ZIP64 end record is damaged');
    count = toSafeNumber(zip64.readBigUInt64LE(32), path);
    directorySize = toSafeNumber(zip64.readBigUInt64LE(40), path);
    directoryOffset = toSafeNumber(zip64.readBigUInt64LE(48), path);
  }
  if (directorySize > MAX_CENTRAL_DIRECTORY_BYTES || directoryOffset + directorySize > size) {
    throw invalid(path, 'the ZIP central directory lies outside the file: the file is truncated or damaged');
  }
  const directory = await readAt(handle, directoryOffset, directorySize, path);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i += 1) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_HEADER) {
      throw invalid(path, 'the ZIP central directory is damaged');
    }
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > directory.length) throw invalid(path, 'the ZIP central directory is damaged');
    const entry: ZipEntry = {
      name: directory.toString('utf8', at + 46, at + 46 + nameLength),
      flags: directory.readUInt16LE(at + 8),
      method: directory.readUInt16LE(at + 10),
      crc: directory.readUInt32LE(at + 16),
      compressedSize: directory.readUInt32LE(at + 20),
      size: directory.readUInt32LE(at + 24),
      localHeaderOffset: directory.readUInt32LE(at + 42),
    };
    applyZip64Extra(
      entry,
      directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength),
      path,
    );
    if (entry.localHeaderOffset + entry.compressedSize > directoryOffset) {
      throw invalid(path, `entry ${entry.name} lies outside the archive's data: the file is damaged`);
    }
    entries.push(entry);
    at = next;
  }
  return entries;
}

/** Sizes and offsets too big for 32 bits live in the ZIP64 extra field, in this order. */
function applyZip64Extra(entry: ZipEntry, extra: Buffer, path: string): void {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      const take = (): number => {
        if (field + 8 > at + 4 + length) throw invalid(path, `entry ${entry.name} has a damaged ZIP64 field`);
        const value = toSafeNumber(extra.readBigUInt64LE(field), path);
        field += 8;
        return value;
      };
      if (entry.size === 0xffffffff) entry.size = take();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = take();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = take();
      return;
    }
    at += 4 + length;
  }
}

async function verifyEntry(
  handle: FileHandle,
  entry: ZipEntry,
  path: string,
  signal?: AbortSignal,
): Promise<void> {
  if (entry.flags & 0x1) throw invalid(path, `entry ${entry.name} is encrypted`);
  if (entry.method !== 0 && entry.method !== 8) {
    throw invalid(path, `entry ${entry.name} uses an unsupported compression method (${entry.method})`);
  }
  const local = await readAt(handle, entry.localHeaderOffset, 30, path);
  if (local.readUInt32LE(0) !== LOCAL_HEADER)
    throw invalid(path, `entry ${entry.name} is damaged (bad local header)`);
  const nameLength = local.readUInt16LE(26);
  const localName = (await readAt(handle, entry.localHeaderOffset + 30, nameLength, path)).toString('utf8');
  if (localName !== entry.name)
    throw invalid(path, `entry ${entry.name} is damaged (its local name is ${localName})`);
  const dataStart = entry.localHeaderOffset + 30 + nameLength + local.readUInt16LE(28);
  let crc = 0;
  let size = 0;
  if (entry.compressedSize > 0) {
    const raw = readRange(handle, dataStart, entry.compressedSize, path);
    const check = async (source: AsyncIterable<Buffer>): Promise<void> => {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > entry.size) throw invalid(path, `entry ${entry.name} is larger than the archive records`);
        crc = crc32(chunk, crc);
      }
    };
    try {
      if (entry.method === 8) await pipeline(raw, createInflateRaw(), check, { signal });
      else await pipeline(raw, check, { signal });
    } catch (error) {
      if (error instanceof InletError || signal?.aborted) throw error;
      throw invalid(path, `entry ${entry.name} is damaged (${(error as Error).message})`, error);
    }
  }
  if (size !== entry.size || crc !== entry.crc) {
    throw invalid(path, `entry ${entry.name} is damaged (its content does not match its checksum)`);
  }
}

/** Reads part of the file in chunks (FileHandle.createReadStream adds a listener to the handle per stream). */
async function* readRange(
  handle: FileHandle,
  start: number,
  length: number,
  path: string,
): AsyncGenerator<Buffer> {
  const end = start + length;
  for (let position = start; position < end; ) {
    const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, end - position));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
    if (bytesRead === 0) throw invalid(path, 'the file is truncated');
    position += bytesRead;
    yield chunk.subarray(0, bytesRead);
  }
}

async function readAt(handle: FileHandle, position: number, length: number, path: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw invalid(path, 'the file is truncated');
  return buffer;
}

function toSafeNumber(value: bigint, path: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(path, 'a ZIP64 size or offset is out of range');
  return Number(value);
}

function invalid(path: string, reason: string, cause?: unknown): InletError {
  return new InletError('INLET_E_PARSE', `${basename(path)} is not a valid .xlsx file: ${reason}`, { cause });
}
