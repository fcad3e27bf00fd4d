import { addAbortSignal } from 'node:stream';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { z } from 'zod';
import { InletError } from '../core/errors.ts';
import { openDecompressedStream } from './input-stream.ts';
import { abandonConversion, createNdjsonWriter } from './ndjson-writer.ts';

export const xmlFormatSchema = z
  .object({
    type: z.literal('xml'),
    record_path: z
      .string()
      .regex(/^\/?[^/\s]+(\/[^/\s]+)*$/, 'a slash-separated path of element names, e.g. orders/order')
      .describe(
        'Slash-separated element names from the root element down to the elements that are records, e.g. `orders/order`. ' +
          '`*` matches any one element; a name without a prefix also matches prefixed elements (`order` matches `ns:order`).',
      ),
    max_depth: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(64)
      .describe('Deepest element nesting accepted; deeper documents are refused (INLET_E_XML_LIMIT).'),
    max_record_bytes: z
      .number()
      .int()
      .min(1)
      .default(1024 * 1024)
      .describe(
        'Largest record accepted, counted in characters of its XML source (bytes for ASCII text); also the ' +
          'largest text, comment, tag or DOCTYPE anywhere in the document. Larger ones are refused (INLET_E_XML_LIMIT).',
      ),
    attribute_prefix: z
      .string()
      .default('')
      .describe(
        'Prefix of keys made from attributes. With the default `""` attributes are plain keys, and an attribute ' +
          'named like a child element of the same element gets `@` in front.',
      ),
    text_key: z
      .string()
      .min(1)
      .default('#text')
      .describe('Key of the text of an element that also has attributes or child elements.'),
    array_elements: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Element names always emitted as arrays, even when a record has only one of them (otherwise a repeated ' +
          'element is an array and a single one a plain value).',
      ),
  })
  .strict()
  .describe(
    'XML, read as a stream: each element at `record_path` becomes one record. Attributes and child elements become ' +
      'keys, repeated elements arrays, values stay strings (cast them with `cast`). Documents declaring entities ' +
      '(DOCTYPE with <!ENTITY) are refused, nothing is ever fetched. gzip (.gz) and zstd (.zst) files are read by extension.',
  );

export type XmlFormat = z.output<typeof xmlFormatSchema>;

/**
 * Streams the records of an XML file to an NDJSON file, one JSON object per line.
 * Throws INLET_E_XML_LIMIT for entity declarations and exceeded limits, INLET_E_PARSE for malformed XML.
 */
export async function xmlToNdjson(
  inputPath: string,
  outputPath: string,
  options: XmlFormat,
  signal?: AbortSignal,
): Promise<{ records: number }> {
  signal?.throwIfAborted();
  const input = openDecompressedStream(inputPath);
  if (signal !== undefined) addAbortSignal(signal, input);
  const writer = createNdjsonWriter(outputPath);
  const parser = createRecordParser(options, (record) => writer.write(record));
  const decoder = createSniffingDecoder();
  try {
    for await (const chunk of input) {
      parser.write(decoder.decode(chunk as Buffer, parser.line()));
      await writer.flush(signal);
    }
    parser.write(decoder.end(parser.line()));
    parser.end();
    return { records: await writer.close() };
  } catch (error) {
    return abandonConversion(input, writer, error, signal);
  }
}

interface ElementNode {
  name: string;
  attributes: Record<string, string>;
  children: ElementNode[];
  text: string;
}

interface RecordParser {
  write(text: string): void;
  end(): void;
  /** The line the parser has reached, for errors found outside it. */
  line(): number;
}

/** A saxes parser that hands each element at the record path, as a JSON-ready object, to `onRecord`. */
function createRecordParser(
  options: XmlFormat,
  onRecord: (record: Record<string, unknown>) => void,
): RecordParser {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const path = compileRecordPath(options.record_path);
  const maxBytes = options.max_record_bytes;
  const toValue = createNodeConverter(options);
  let depth = 0;
  // How many leading segments of the record path the currently open elements match.
  let matched = 0;
  // The open elements of the record being read; empty between records.
  const open: ElementNode[] = [];
  let recordStart = 0;
  let recordLine = 0;
  // Where the token the parser is in began: saxes buffers a whole token (text, tag, DOCTYPE) before reporting it.
  let tokenStart = 0;
  let tokenLine = 1;

  const tokenEnded = (): void => {
    tokenStart = parser.position;
    tokenLine = parser.line;
  };
  // saxes's position is only right inside its handlers (after write() it counts the chunk twice).
  let written = 0;
  const checkSizes = (position = parser.position): void => {
    if (open.length > 0 && position - recordStart > maxBytes) {
      throw xmlLimit(
        `the record starting at line ${recordLine} is larger than max_record_bytes (${maxBytes})`,
        recordLine,
      );
    }
    if (position - tokenStart > maxBytes) {
      throw xmlLimit(
        `a text, comment, tag or DOCTYPE starting at line ${tokenLine} is larger than max_record_bytes (${maxBytes})`,
        tokenLine,
      );
    }
  };

  parser.on('doctype', (doctype) => {
    const entity = doctype.indexOf('<!ENTITY');
    if (entity >= 0) {
      const line = parser.line - countNewlines(doctype.slice(entity));
      throw xmlLimit(
        `the DOCTYPE declares entities (<!ENTITY at line ${line}); entity declarations are refused ` +
          'to prevent entity-expansion bombs and external entity access',
        line,
      );
    }
    tokenEnded();
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    depth += 1;
    if (depth > options.max_depth) {
      throw xmlLimit(
        `elements are nested deeper than max_depth (${options.max_depth}) at line ${parser.line}`,
        parser.line,
      );
    }
    if (open.length > 0) {
      const node = elementNode(tag);
      open[open.length - 1].children.push(node);
      open.push(node);
      checkSizes();
    } else if (matched === depth - 1 && depth <= path.length && path[depth - 1](tag.name)) {
      matched = depth;
      if (depth === path.length) {
        open.push(elementNode(tag));
        recordStart = tokenStart;
        recordLine = tokenLine;
      }
    }
    tokenEnded();
  });
  parser.on('closetag', () => {
    if (open.length > 0) checkSizes();
    const node = open.pop();
    if (node !== undefined && open.length === 0) onRecord(toRecord(toValue(node), options.text_key));
    if (matched === depth) matched -= 1;
    depth -= 1;
    tokenEnded();
  });
  const onText = (text: string): void => {
    if (open.length > 0) {
      open[open.length - 1].text += text;
      checkSizes();
    }
    tokenEnded();
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('comment', tokenEnded);
  parser.on('processinginstruction', tokenEnded);
  parser.on('xmldecl', tokenEnded);
  parser.on('error', (error) => {
    const reason = error.message.replace(/^\d+:\d+: /, '');
    throw new InletError(
      'INLET_E_PARSE',
      `malformed XML at line ${parser.line}, column ${parser.column}: ${reason}`,
      { details: { line: parser.line, column: parser.column } },
    );
  });

  return {
    write(text) {
      if (text.length === 0) return;
      parser.write(text);
      written += text.length;
      checkSizes(written);
    },
    end() {
      parser.close();
    },
    line: () => parser.line,
  };
}

function elementNode(tag: SaxesTagPlain): ElementNode {
  return { name: tag.name, attributes: tag.attributes, children: [], text: '' };
}

/** One matcher per path segment: exact name, `*`, or a local name matching any prefix. */
function compileRecordPath(recordPath: string): Array<(name: string) => boolean> {
  return recordPath
    .replace(/^\//, '')
    .split('/')
    .map((segment) => {
      if (segment === '*') return () => true;
      if (segment.includes(':')) return (name) => name === segment;
      const suffix = `:${segment}`;
      return (name) => name === segment || name.endsWith(suffix);
    });
}

/** Converts a finished element to its JSON value following the format's options. */
function createNodeConverter(options: XmlFormat): (node: ElementNode) => unknown {
  const forcedArrays = new Set(options.array_elements);
  const convert = (node: ElementNode): unknown => {
    if (node.children.length === 0 && !hasAttributes(node)) return isBlank(node.text) ? null : node.text;
    const attributes = Object.entries(node.attributes).filter(([name]) => !isNamespaceDeclaration(name));
    // Null prototype: element and attribute names such as __proto__ must stay ordinary keys.
    const object: Record<string, unknown> = Object.create(null);
    const groups = new Map<string, unknown[]>();
    for (const child of node.children) {
      const group = groups.get(child.name);
      if (group === undefined) groups.set(child.name, [convert(child)]);
      else group.push(convert(child));
    }
    for (const [name, value] of attributes) {
      const key =
        options.attribute_prefix === '' && groups.has(name) ? `@${name}` : options.attribute_prefix + name;
      object[key] = value;
    }
    for (const [name, values] of groups) {
      object[name] = values.length === 1 && !forcedArrays.has(name) ? values[0] : values;
    }
    if (!isBlank(node.text)) object[options.text_key] = node.text.replace(XML_SPACE_AROUND, '');
    return object;
  };
  return convert;
}

/** A record is always an object: a record element holding only text becomes `{ [text_key]: text }`. */
function toRecord(value: unknown, textKey: string): Record<string, unknown> {
  if (value !== null && typeof value === 'object') return value as Record<string, unknown>;
  const record: Record<string, unknown> = Object.create(null);
  if (value !== null) record[textKey] = value;
  return record;
}

function isNamespaceDeclaration(name: string): boolean {
  return name === 'xmlns' || name.startsWith('xmlns:');
}

function hasAttributes(node: ElementNode): boolean {
  for (const name in node.attributes) if (!isNamespaceDeclaration(name)) return true;
  return false;
}

/** XML whitespace is these four characters only: a no-break space is content. */
const XML_NON_SPACE = /[^ \t\r\n]/;
const XML_SPACE_AROUND = /^[ \t\r\n]+|[ \t\r\n]+$/g;

function isBlank(text: string): boolean {
  return !XML_NON_SPACE.test(text);
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count += 1;
  return count;
}

function xmlLimit(message: string, line: number): InletError {
  return new InletError('INLET_E_XML_LIMIT', `XML refused: ${message}`, { details: { line } });
}

interface SniffingDecoder {
  decode(chunk: Buffer, line: number): string;
  end(line: number): string;
}

/** Bytes looked at to find the encoding: a BOM or the `encoding` of the XML declaration. */
const SNIFF_BYTES = 512;

/** Decodes bytes to text in the document's encoding (BOM, then XML declaration, else UTF-8); invalid bytes are errors. */
function createSniffingDecoder(): SniffingDecoder {
  let decoder: TextDecoder | undefined;
  let head: Buffer[] = [];
  let headBytes = 0;
  const run = (bytes: Buffer, stream: boolean, line: number): string => {
    try {
      return decoder!.decode(bytes, { stream });
    } catch (error) {
      throw new InletError('INLET_E_PARSE', `invalid ${decoder!.encoding} byte sequence near line ${line}`, {
        cause: error,
        details: { line },
      });
    }
  };
  const start = (): Buffer => {
    const bytes = Buffer.concat(head);
    head = [];
    decoder = textDecoderFor(sniffEncoding(bytes));
    return bytes;
  };
  return {
    decode(chunk, line) {
      if (decoder !== undefined) return run(chunk, true, line);
      head.push(chunk);
      headBytes += chunk.length;
      return headBytes < SNIFF_BYTES ? '' : run(start(), true, line);
    },
    end(line) {
      const rest = decoder === undefined ? run(start(), true, line) : '';
      return rest + run(Buffer.alloc(0), false, line);
    },
  };
}

function sniffEncoding(head: Buffer): string {
  const [b0, b1, b2, b3] = head;
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return 'utf-8';
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0x3c && b1 === 0x00 && b2 === 0x3f && b3 === 0x00))
    return 'utf-16le';
  if ((b0 === 0xfe && b1 === 0xff) || (b0 === 0x00 && b1 === 0x3c && b2 === 0x00 && b3 === 0x3f))
    return 'utf-16be';
  const declaration = /^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z][\w.:-]*)["']/.exec(
    head.toString('latin1', 0, SNIFF_BYTES),
  );
  return declaration?.[1] ?? 'utf-8';
}

function textDecoderFor(encoding: string): TextDecoder {
  try {
    return new TextDecoder(encoding, { fatal: true });
  } catch (error) {
    throw new InletError('INLET_E_PARSE', `the XML declaration names an unsupported encoding: ${encoding}`, {
      cause: error,
      details: { line: 1 },
    });
  }
}
