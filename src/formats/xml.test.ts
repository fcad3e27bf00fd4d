import assert from 'node:assert/strict';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { assertConversionFails } from './conversion-test-support.ts';
import { xmlFormatSchema, xmlToNdjson } from './xml.ts';

const dir = mkdtempSync(join(tmpdir(), 'inlet-xml-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function file(name: string, content: string | Buffer): string {
  fileCounter += 1;
  const path = join(dir, `${fileCounter}-${name}`);
  writeFileSync(path, content);
  return path;
}

async function convert(content: string | Buffer, options: Record<string, unknown>, name = 'in.xml') {
  const input = file(name, content);
  const output = `${input}.ndjson`;
  const result = await xmlToNdjson(input, output, xmlFormatSchema.parse({ type: 'xml', ...options }));
  return { ...result, output, text: readFileSync(output, 'utf8') };
}

/** Asserts the conversion fails with `code`, the message matching `message`, and no output file left behind. */
async function assertRefused(
  content: string | Buffer,
  options: Record<string, unknown>,
  code: string,
  message: RegExp,
  name = 'bad.xml',
) {
  const input = file(name, content);
  const output = `${input}.ndjson`;
  return assertConversionFails(
    xmlToNdjson(input, output, xmlFormatSchema.parse({ type: 'xml', ...options })),
    output,
    code,
    message,
  );
}

const ORDERS = `<?xml version="1.0" encoding="UTF-8"?>
<orders>
  <!-- two orders and something else -->
  <order id="1" status="new">
    <customer tier="gold"><name>Alice</name><email/></customer>
    <item sku="A">2</item>
    <item sku="B"><![CDATA[3 < 4]]></item>
    <id>legacy-1</id>
    <note>Fish &amp; chips</note>
  </order>
  <meta><order id="nested-elsewhere"/></meta>
  <order id="2"><customer><name>Bob</name></customer><item sku="C">1</item></order>
  <order>just text</order>
  <order/>
</orders>
`;

describe('xmlToNdjson', () => {
  it('turns each element at record_path into one JSON line: attributes, nested, repeated and empty elements', async () => {
    const { records, text } = await convert(ORDERS, { record_path: 'orders/order' });
    assert.equal(records, 4);
    assert.equal(
      text,
      [
        '{"@id":"1","status":"new","customer":{"tier":"gold","name":"Alice","email":null},' +
          '"item":[{"sku":"A","#text":"2"},{"sku":"B","#text":"3 < 4"}],"id":"legacy-1","note":"Fish & chips"}',
        '{"id":"2","customer":{"name":"Bob"},"item":{"sku":"C","#text":"1"}}',
        '{"#text":"just text"}',
        '{}',
        '',
      ].join('\n'),
    );
  });

  it('keeps text as written; only XML whitespace counts as empty', async () => {
    const doc = '<r><v><a> padded </a><b>\n  </b><c>\u00a0</c></v><v k="1">\n  mixed <x/> text\n</v></r>';
    assert.equal(
      (await convert(doc, { record_path: 'r/v' })).text,
      '{"a":" padded ","b":null,"c":"\u00a0"}\n{"k":"1","x":null,"#text":"mixed  text"}\n',
    );
  });

  it('applies attribute_prefix, text_key and array_elements', async () => {
    const { text } = await convert(ORDERS, {
      record_path: '/orders/order',
      attribute_prefix: '_',
      text_key: 'value',
      array_elements: ['item'],
    });
    const second = JSON.parse(text.split('\n')[1]);
    assert.deepEqual(second, { _id: '2', customer: { name: 'Bob' }, item: [{ _sku: 'C', value: '1' }] });
  });

  it('matches wildcards and unprefixed names against namespaced elements', async () => {
    const doc = '<f:feed xmlns:f="urn:f"><f:entry n="1"/><x:entry xmlns:x="urn:x" n="2"/><skip/></f:feed>';
    assert.equal((await convert(doc, { record_path: 'feed/entry' })).text, '{"n":"1"}\n{"n":"2"}\n');
    assert.equal((await convert(doc, { record_path: '*/f:entry' })).text, '{"n":"1"}\n');
  });

  it('reads gzip and zstd compressed files by extension', async () => {
    const plain = await convert(ORDERS, { record_path: 'orders/order' });
    const gz = await convert(gzipSync(ORDERS), { record_path: 'orders/order' }, 'orders.xml.gz');
    const zst = await convert(zstdCompressSync(ORDERS), { record_path: 'orders/order' }, 'orders.xml.zst');
    assert.equal(gz.text, plain.text);
    assert.equal(zst.text, plain.text);
  });

  it('reports a corrupt gzip file as INLET_E_PARSE', async () => {
    const gz = gzipSync(ORDERS);
    const truncated = gz.subarray(0, gz.length - 20);
    await assertRefused(
      truncated,
      { record_path: 'orders/order' },
      'INLET_E_PARSE',
      /corrupt or truncated gzip/,
      'a.xml.gz',
    );
  });

  it('decodes the encoding named in the XML declaration', async () => {
    const latin1 = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><r><v>caf\xe9</v></r>', 'latin1');
    assert.equal((await convert(latin1, { record_path: 'r/v' })).text, '{"#text":"café"}\n');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<r><v>naïve</v></r>', 'utf16le')]);
    assert.equal((await convert(utf16, { record_path: 'r/v' })).text, '{"#text":"naïve"}\n');
  });

  it('refuses bytes that are not valid UTF-8 instead of replacing them', async () => {
    const bad = Buffer.concat([Buffer.from('<r>\n<v>'), Buffer.from([0xc3, 0x28]), Buffer.from('</v></r>')]);
    await assertRefused(bad, { record_path: 'r/v' }, 'INLET_E_PARSE', /invalid utf-8 byte sequence/);
  });

  it('writes an empty file when nothing matches the record path', async () => {
    const { records, text } = await convert(ORDERS, { record_path: 'orders/invoice' });
    assert.equal(records, 0);
    assert.equal(text, '');
  });

  it('refuses a billion-laughs entity bomb without expanding it', { timeout: 5_000 }, async () => {
    const bomb = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz><lol>&lol9;</lol></lolz>`;
    const error = await assertRefused(
      bomb,
      { record_path: 'lolz/lol' },
      'INLET_E_XML_LIMIT',
      /declares entities.*line 3/,
    );
    assert.equal(error.details.line, 3);
  });

  it('refuses an external entity (XXE) and never reads the referenced file', async () => {
    const xxe =
      '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r><v>&x;</v></r>';
    const error = await assertRefused(xxe, { record_path: 'r/v' }, 'INLET_E_XML_LIMIT', /<!ENTITY/);
    assert.equal(error.details.line, 2);
    assert.doesNotMatch(error.message, /root:/);
  });

  it('never expands entities it does not know, even without a DOCTYPE', async () => {
    await assertRefused(
      '<r><v>&custom;</v></r>',
      { record_path: 'r/v' },
      'INLET_E_PARSE',
      /undefined entity/,
    );
  });

  it('accepts a DOCTYPE without entity declarations', async () => {
    const doc = '<!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r><v>1</v></r>';
    assert.equal((await convert(doc, { record_path: 'r/v' })).text, '{"#text":"1"}\n');
  });

  it('reports truncated XML as INLET_E_PARSE with the line', async () => {
    const truncated = ORDERS.slice(0, ORDERS.indexOf('<item sku="C">'));
    const error = await assertRefused(
      truncated,
      { record_path: 'orders/order' },
      'INLET_E_PARSE',
      /line 12.*unclosed tag/,
    );
    assert.equal(error.details.line, 12);
  });

  it('reports malformed XML with line and column', async () => {
    const error = await assertRefused(
      '<r>\n  <v>1</v>\n  <v>2</w>\n</r>',
      { record_path: 'r/v' },
      'INLET_E_PARSE',
      /line 3, column \d+/,
    );
    assert.equal(error.details.line, 3);
  });

  it('refuses a deep-nesting bomb at max_depth', { timeout: 10_000 }, async () => {
    const bomb = `<r>\n${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</r>`;
    const error = await assertRefused(
      bomb,
      { record_path: 'r/a' },
      'INLET_E_XML_LIMIT',
      /max_depth \(64\).*line 2/,
    );
    assert.equal(error.details.line, 2);
    await assertRefused(
      '<a><b><c/></b></a>',
      { record_path: 'a/b', max_depth: 2 },
      'INLET_E_XML_LIMIT',
      /max_depth \(2\)/,
    );
  });

  it('refuses a record larger than max_record_bytes, naming the line it starts on', async () => {
    const doc = `<r>\n<v>small</v>\n<v>${'x'.repeat(5000)}</v>\n</r>`;
    const error = await assertRefused(
      doc,
      { record_path: 'r/v', max_record_bytes: 1000 },
      'INLET_E_XML_LIMIT',
      /record starting at line 3 is larger than max_record_bytes \(1000\)/,
    );
    assert.equal(error.details.line, 3);
    const wide = `<r><v>${'<c>x</c>'.repeat(500)}</v></r>`;
    await assertRefused(
      wide,
      { record_path: 'r/v', max_record_bytes: 1000 },
      'INLET_E_XML_LIMIT',
      /max_record_bytes/,
    );
  });

  it('accepts many small records under a small max_record_bytes (limits are per record, not per read)', async () => {
    const doc = `<r>${'<v a="1">12345</v>\n'.repeat(20_000)}</r>`;
    const { records } = await convert(doc, { record_path: 'r/v', max_record_bytes: 40 });
    assert.equal(records, 20_000);
  });

  it('bounds text outside records too (a huge comment between records)', async () => {
    const doc = `<r><v>1</v><!--${'-x'.repeat(1_000_000)}--><v>2</v></r>`;
    await assertRefused(
      doc,
      { record_path: 'r/v', max_record_bytes: 10_000 },
      'INLET_E_XML_LIMIT',
      /comment.*max_record_bytes/,
    );
  });

  it('streams 200k records', { timeout: 120_000 }, async () => {
    const input = join(dir, 'big.xml');
    const count = 200_000;
    async function* document() {
      yield '<?xml version="1.0"?>\n<feed>\n';
      for (let i = 1; i <= count; i += 1000) {
        let batch = '';
        for (let j = i; j < i + 1000; j += 1)
          batch += `  <row n="${j}"><name>row ${j}</name><tag>a</tag><tag>b</tag></row>\n`;
        yield batch;
      }
      yield '</feed>\n';
    }
    await pipeline(Readable.from(document()), createWriteStream(input));
    const output = `${input}.ndjson`;
    const { records } = await xmlToNdjson(
      input,
      output,
      xmlFormatSchema.parse({ type: 'xml', record_path: 'feed/row' }),
    );
    assert.equal(records, count);
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, count);
    assert.deepEqual(JSON.parse(lines[count - 1]), {
      n: String(count),
      name: `row ${count}`,
      tag: ['a', 'b'],
    });
  });

  it('stops when aborted and rejects with the abort reason', async () => {
    const input = file('abort.xml', `<r>${'<v>1</v>'.repeat(200_000)}</r>`);
    const output = `${input}.ndjson`;
    const controller = new AbortController();
    const reason = new Error('run cancelled');
    const running = xmlToNdjson(
      input,
      output,
      xmlFormatSchema.parse({ type: 'xml', record_path: 'r/v' }),
      controller.signal,
    );
    controller.abort(reason);
    await assert.rejects(running, (error) => error === reason);
    assert.equal(existsSync(output), false);
    await assert.rejects(
      xmlToNdjson(
        input,
        output,
        xmlFormatSchema.parse({ type: 'xml', record_path: 'r/v' }),
        controller.signal,
      ),
      (error) => error === reason,
    );
  });

  it('rejects a record_path that is not a path of names', () => {
    assert.equal(xmlFormatSchema.safeParse({ type: 'xml', record_path: 'a//b' }).success, false);
    assert.equal(xmlFormatSchema.safeParse({ type: 'xml', record_path: '' }).success, false);
    assert.equal(xmlFormatSchema.safeParse({ type: 'xml', record_path: 'a/b', depth: 3 }).success, false);
  });
});
