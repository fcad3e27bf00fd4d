import picomatch from 'picomatch';
import { z } from 'zod';
import type { UnitCandidate, UnitOrigin } from '../core/connector.ts';
import { nextVersionKey } from './dispositions.ts';
import { baseName } from './object-keys.ts';

const matchSchema = z
  .object({
    pattern: z
      .string()
      .min(1)
      .optional()
      .describe('Glob the file name (not its folder) must match, e.g. "users_*.csv".'),
    extension: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('File extension(s), e.g. csv or [csv, csv.gz]; compared case-insensitively.'),
    min_size: z.number().int().min(0).optional().describe('Smallest size in bytes.'),
    max_size: z.number().int().min(0).optional().describe('Largest size in bytes.'),
    metadata: z
      .record(z.string(), z.string())
      .optional()
      .describe('Remote metadata or tags that must all have these values (S3/Azure).'),
  })
  .strict();

export const segregationSchema = z
  .object({
    rules: z
      .array(
        z
          .object({
            name: z.string().min(1).describe('The kind of file, e.g. users; shown in logs and reports.'),
            match: matchSchema.describe('Every condition given must hold.'),
            move_to: z
              .string()
              .min(1)
              .optional()
              .describe("Folder on the source's server to move matching files into, e.g. /landing/users."),
            job: z.string().min(1).optional().describe('The job to run once files were routed to it.'),
          })
          .strict(),
      )
      .min(1)
      .describe('Tried in order; the first rule that matches a file decides where it goes.'),
    unmatched: z
      .object({ move_to: z.string().min(1) })
      .strict()
      .optional()
      .describe('Where files no rule matches go; by default they stay where they are.'),
  })
  .strict()
  .describe(
    'Routes each new file in the source folder by name, extension, size or metadata to the folder and job for its kind, instead of loading it.',
  );

export type SegregationSpec = z.output<typeof segregationSchema>;
export type SegregationRule = SegregationSpec['rules'][number];

/** The first rule a file matches, or undefined. */
export function classify(
  rules: readonly SegregationRule[],
  file: { name: string; size: number; metadata?: Record<string, string> },
): SegregationRule | undefined {
  const lower = file.name.toLowerCase();
  return rules.find(({ match }) => {
    if (match.pattern && !picomatch.isMatch(file.name, match.pattern, { dot: false })) return false;
    if (match.extension) {
      const extensions = Array.isArray(match.extension) ? match.extension : [match.extension];
      if (!extensions.some((ext) => lower.endsWith(`.${ext.toLowerCase().replace(/^\./, '')}`))) return false;
    }
    if (match.min_size !== undefined && file.size < match.min_size) return false;
    if (match.max_size !== undefined && file.size > match.max_size) return false;
    for (const [key, value] of Object.entries(match.metadata ?? {})) {
      if (file.metadata?.[key.toLowerCase()] !== value) return false;
    }
    return true;
  });
}

export interface RoutedFile {
  uri: string;
  kind: string | null;
  /** Where the file is now (its new URI), or null when it stayed in place. */
  movedTo: string | null;
  job: string | null;
}

function ruleFor(origin: UnitOrigin, unit: UnitCandidate, spec: SegregationSpec) {
  const rule = classify(spec.rules, {
    name: baseName(origin.keyOf(unit)),
    size: unit.size,
    metadata: unit.metadata,
  });
  return { rule, folder: rule ? rule.move_to : spec.unmatched?.move_to };
}

/** True when routing would do something with the file (move it or hand it to a job), so a watch poll runs. */
export function wouldRoute(origin: UnitOrigin, unit: UnitCandidate, spec: SegregationSpec): boolean {
  const { rule, folder } = ruleFor(origin, unit, spec);
  return Boolean(folder || rule?.job);
}

/**
 * Routes one file: classifies it and moves it into its kind's folder on the same server.
 * A file of the same name already waiting there is never replaced: the newcomer gets the
 * next version name (users.v2.csv), and duplicate content is caught by the kind's job.
 */
export async function routeFile(
  origin: UnitOrigin,
  unit: UnitCandidate,
  spec: SegregationSpec,
): Promise<RoutedFile> {
  const { rule, folder } = ruleFor(origin, unit, spec);
  let movedTo: string | null = null;
  if (folder) {
    const target = await nextVersionKey(origin.store, origin.folderKey(folder), origin.relativeKeyOf(unit));
    await origin.store.move(origin.keyOf(unit), target);
    movedTo = origin.store.uri(target);
  }
  return { uri: unit.uri, kind: rule?.name ?? null, movedTo, job: rule?.job ?? null };
}
