import { z } from 'zod';
import type { ConnectorSpec } from '../core/connector.ts';
import type { ERROR_CODES } from '../core/errors.ts';

/** docs/errors.md: one row per error code, in the order ERROR_CODES declares them. */
export function renderErrorsDoc(codes: typeof ERROR_CODES): string {
  const rows = Object.entries(codes).map(
    ([code, { kind, summary }]) => `| \`${code}\` | ${kind} | ${summary} |`,
  );
  return `# Error codes

Generated from \`src/core/errors.ts\` by \`npm run docs\`; a test keeps the two in step.

Every error inlet reports carries one of these codes. The kind says what to do about it:
\`config\` — fix the job file or command line (exit code 2); \`input\` — the data is bad, see the
unit's error or the quarantine; \`transient\` — retried automatically, and a later run takes the
unit again; \`terminal\` — needs an operator; \`internal\` — a bug, please report it.

| code | kind | meaning |
| --- | --- | --- |
${rows.join('\n')}
`;
}

type JsonSchema = {
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  type?: unknown;
  enum?: unknown[];
  default?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
};

function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((v) => `\`${v}\``).join(' \\| ');
  if (schema.oneOf) return schema.oneOf.map(typeOf).join(' or ');
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' or ');
  return Array.isArray(schema.type) ? schema.type.join(' or ') : String(schema.type ?? 'any');
}

function optionRows(schema: JsonSchema): string[] {
  return Object.entries(schema.properties ?? {}).map(([key, option]) => {
    const required = schema.required?.includes(key) && option.default === undefined ? ' (required)' : '';
    const fallback = option.default === undefined ? '' : ` Default: \`${JSON.stringify(option.default)}\`.`;
    return `| \`${key}\`${required} | ${typeOf(option)} | ${(option.description ?? '').replaceAll('\n', ' ').replaceAll('|', '\\|')}${fallback} |`;
  });
}

/** docs/job-reference.md: the job file's top-level keys and every connector's options. */
export function renderJobReference(
  jobSchema: JsonSchema,
  connectors: ConnectorSpec[],
  formats: readonly z.ZodType[],
): string {
  const formatSections = formats.map((format) => {
    const schema = z.toJSONSchema(format, {
      target: 'draft-7',
      io: 'input',
      unrepresentable: 'any',
    }) as JsonSchema;
    return `### format ${typeOf(schema.properties?.type ?? {})}

${schema.description ?? ''}

| option | type | meaning |
| --- | --- | --- |
${optionRows(schema).join('\n')}
`;
  });
  const sections = connectors.map((c) => {
    const schema = z.toJSONSchema(c.config, {
      target: 'draft-7',
      io: 'input',
      unrepresentable: 'any',
    }) as JsonSchema;
    return `### ${c.kind} \`${c.type}\`

${schema.description ?? c.summary}

| option | type | meaning |
| --- | --- | --- |
${optionRows(schema).join('\n')}
`;
  });
  return `# Job file reference

Generated from the connector and transform schemas by \`npm run docs\` (\`inlet schema\` prints the
same schema as JSON Schema for editors). See the README for a walkthrough and docs/transforms.md for
the transform steps.

## Top level

| key | type | meaning |
| --- | --- | --- |
${optionRows(jobSchema).join('\n')}

## Connectors

${sections.join('\n')}
## Formats (\`source.format\`)

${formatSections.join('\n')}`;
}
