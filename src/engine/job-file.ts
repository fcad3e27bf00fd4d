import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  type Document,
  isMap,
  isScalar,
  LineCounter,
  type Node,
  parseDocument,
  parse as parseYaml,
  visit,
} from 'yaml';
import type { z } from 'zod';
import { InletError } from '../core/errors.ts';
import { applyConnections, type Connections } from './connections.ts';

/** One thing wrong with a job file, located by its YAML path and line. */
export interface JobProblem {
  path: string;
  line: number | null;
  message: string;
}

export interface LoadedJob<T> {
  spec: T;
  /** The job file's folder; relative paths in the spec resolve against it. */
  baseDir: string;
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** `--set a.b=value` overrides, applied before validation. */
  overrides?: string[];
  /** Named connections that `connection: <name>` in the source or sinks refers to. */
  connections?: Connections;
}

const ENV_REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Formats a path like transforms[2].cast.amount. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}

/**
 * Reads a job file: YAML → `${VAR}` interpolation (`${VAR:-default}`, `$$` for a literal
 * `$`) → overrides → schema validation. Every problem carries its YAML path and line;
 * when there are any, throws an InletError listing them all in `details.problems`.
 */
export async function loadJobFile<S extends z.ZodType>(
  file: string,
  schema: S,
  options: LoadOptions = {},
): Promise<LoadedJob<z.output<S>>> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new InletError('INLET_E_USAGE', `cannot read job file ${file}: ${error.code ?? error.message}`);
  });
  return parseJobText(text, schema, { ...options, baseDir: dirname(resolve(file)), source: file });
}

export function parseJobText<S extends z.ZodType>(
  text: string,
  schema: S,
  options: LoadOptions & { baseDir: string; source: string },
): LoadedJob<z.output<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined) => (offset === undefined ? null : lines.linePos(offset).line);
  if (doc.errors.length) {
    const problems = doc.errors.map((e) => ({
      path: '',
      line: lineOf(e.pos[0]),
      message: e.message.split('\n')[0],
    }));
    throw jobError('INLET_E_JOB_YAML', options.source, problems);
  }
  const problems: JobProblem[] = [];
  interpolate(doc, options.env ?? process.env, (path, offset, name) =>
    problems.push({ path, line: lineOf(offset), message: `environment variable ${name} is not set` }),
  );
  for (const override of options.overrides ?? []) applyOverride(doc, override, problems);
  if (problems.length) throw jobError('INLET_E_ENV_MISSING', options.source, problems);

  const job = doc.toJS();
  if (options.connections && job && typeof job === 'object') {
    applyConnections(job, options.connections, (path, message) =>
      problems.push({ path: formatPath(path), line: lineOf(nearestKeyOrNode(doc, path)), message }),
    );
    if (problems.length) throw jobError('INLET_E_JOB_INVALID', options.source, problems);
  }
  const result = schema.safeParse(job);
  if (!result.success) {
    const found = result.error.issues.flatMap((issue) => {
      // An unknown key is reported against its parent; point at the key itself instead.
      const paths =
        issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
      return paths.map((path) => ({
        path: formatPath(path),
        line: lineOf(nearestKeyOrNode(doc, path)),
        message: issue.message,
      }));
    });
    throw jobError('INLET_E_JOB_INVALID', options.source, found);
  }
  return { spec: result.data, baseDir: options.baseDir };
}

function jobError(
  code: 'INLET_E_JOB_YAML' | 'INLET_E_ENV_MISSING' | 'INLET_E_JOB_INVALID',
  source: string,
  problems: JobProblem[],
) {
  const listed = problems
    .map((p) => `  ${p.path || '(document)'}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`)
    .join('\n');
  return new InletError(code, `${source} is not a valid job:\n${listed}`, { details: { problems } });
}

/** Replaces ${VAR} references in string scalars, in place, so line numbers stay true. */
function interpolate(
  doc: Document,
  env: Record<string, string | undefined>,
  missing: (path: string, offset: number | undefined, name: string) => void,
): void {
  visit(doc, {
    Scalar(_key, node, ancestry) {
      if (typeof node.value !== 'string' || !node.value.includes('$')) return;
      const whole = node.type === 'PLAIN' && /^\$\{[^}]+\}$/.test(node.value);
      const text = node.value.replace(
        ENV_REFERENCE,
        (match, name: string | undefined, fallback: string | undefined) => {
          if (match === '$$') return '$';
          const value = env[name!] ?? fallback;
          if (value === undefined) missing(pathOf(ancestry, node), node.range?.[0], name!);
          return value ?? '';
        },
      );
      // `port: ${SFTP_PORT}` unquoted is a number, as if the value had been written there;
      // quoting it ("${SFTP_PORT}") keeps it a string.
      node.value = whole ? plainScalar(text) : text;
    },
  });
}

function plainScalar(text: string): string | number | boolean {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

function pathOf(ancestry: readonly unknown[], node: Node): string {
  const path: PropertyKey[] = [];
  let child: unknown = node;
  for (let i = ancestry.length - 1; i >= 0; i--) {
    const parent = ancestry[i] as { items?: unknown[]; key?: unknown; value?: unknown };
    if (Array.isArray(parent.items)) {
      const index = parent.items.indexOf(child);
      if (index >= 0 && !(parent.items[index] as { key?: unknown })?.key) path.unshift(index);
    } else if (parent.value === child && isScalar(parent.key)) {
      path.unshift(String(parent.key.value));
    }
    child = parent;
  }
  return formatPath(path);
}

/** Applies `a.b[0].c=value` (value parsed as YAML, so numbers and booleans keep their type). */
function applyOverride(doc: Document, override: string, problems: JobProblem[]): void {
  const eq = override.indexOf('=');
  if (eq <= 0) {
    problems.push({ path: override, line: null, message: '--set expects path=value' });
    return;
  }
  const path = override
    .slice(0, eq)
    .split(/\.|\[(\d+)\]/)
    .filter((part) => part !== undefined && part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  doc.setIn(path, doc.createNode(parseYaml(override.slice(eq + 1))));
}

/** Where `path` starts in the text: its key when it is a mapping entry, else its node. */
function nearestKeyOrNode(doc: Document, path: readonly PropertyKey[]): number | undefined {
  const parent = path.length ? doc.getIn(path.slice(0, -1) as (string | number)[], true) : undefined;
  if (isMap(parent)) {
    const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === path.at(-1));
    if (pair && isScalar(pair.key)) return pair.key.range?.[0];
  }
  return nearestNode(doc, path)?.range?.[0];
}

/** The node at `path`, or its nearest existing ancestor (for a missing key, the object that lacks it). */
function nearestNode(doc: Document, path: readonly PropertyKey[]): Node | undefined {
  for (let length = path.length; length >= 0; length--) {
    const node = doc.getIn(path.slice(0, length) as (string | number)[], true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node) return node;
  }
  return doc.contents ?? undefined;
}
