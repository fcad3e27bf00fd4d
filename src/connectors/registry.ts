import { z } from 'zod';
import type {
  ConnectorContext,
  ConnectorSpec,
  Sink,
  SinkSpec,
  Source,
  SourceSpec,
  StoreSpec,
} from '../core/connector.ts';
import { alertsSchema } from '../engine/alert-spec.ts';
import { dispositionSchemas } from '../engine/disposition-spec.ts';
import { reportingSchema } from '../engine/reporting.ts';
import { scheduleSchema } from '../engine/schedule-spec.ts';
import { segregationSchema } from '../engine/segregate.ts';
import { transformStepSchema } from '../engine/transforms/index.ts';
import { triggerSchema } from '../engine/trigger-spec.ts';
import { azureBlobSink, azureBlobSource, azureBlobStore } from './azure-blob/index.ts';
import { httpSink } from './http-api/index.ts';
import { fileSink, fileSource, localStore } from './local-files/index.ts';
import { s3Sink, s3Source, s3Store } from './s3/index.ts';
import { sftpSink, sftpSource, sftpStore } from './sftp/index.ts';

/** Every source connector; adding one here makes it available to jobs, the schema and the docs. */
export const SOURCES: SourceSpec[] = [fileSource, sftpSource, s3Source, azureBlobSource] as SourceSpec[];
/** Every sink connector. */
export const SINKS: SinkSpec[] = [fileSink, sftpSink, s3Sink, azureBlobSink, httpSink] as SinkSpec[];
/** Every store archives and failed files can go to. */
export const STORES: StoreSpec[] = [localStore, sftpStore, s3Store, azureBlobStore] as StoreSpec[];

export const CONNECTORS: ConnectorSpec[] = [...SOURCES, ...SINKS];

function unionOf(specs: (SourceSpec | SinkSpec)[]) {
  const schemas = specs.map((spec) => spec.config) as unknown as [z.ZodObject, ...z.ZodObject[]];
  return schemas.length === 1
    ? schemas[0]
    : z.discriminatedUnion('type', schemas as [z.ZodObject, z.ZodObject, ...z.ZodObject[]]);
}

const sourceSchema = unionOf(SOURCES).describe('Where the data comes from; `type` picks the connector.');
const sinkSchema = unionOf(SINKS).describe('Where the data goes; `type` picks the connector.');
const storeSchema = z.discriminatedUnion(
  'type',
  STORES.map((spec) => spec.config) as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]],
);
const { onSuccess, onFailure } = dispositionSchemas(storeSchema);

const engineSchema = z
  .object({
    memory_limit: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'expected a size such as 512MB or 2GB')
      .optional()
      .describe(
        'Memory cap of the data plane; beyond it DuckDB spills to disk. Default: INLET_MEMORY_LIMIT or 512MB.',
      ),
    threads: z.number().int().min(1).max(256).optional().describe('Data-plane threads; default: all cores.'),
  })
  .strict()
  .describe('Data-plane settings for this job.');

/** The job file schema: the single source for validation, `inlet schema` and the docs. */
export const jobSchema = z
  .object({
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
        'letters, digits, _ . - (up to 128), starting with a letter or digit',
      )
      .describe('Unique job name; the ledger of ingested units is kept per name.'),
    description: z.string().optional().describe('What the job is for.'),
    schedule: scheduleSchema.optional(),
    trigger: triggerSchema.optional(),
    alerts: alertsSchema.optional(),
    source: sourceSchema,
    transforms: z
      .array(transformStepSchema)
      .default([])
      .describe("Steps applied in order to every unit's rows."),
    sinks: z.array(sinkSchema).min(1).optional().describe('Where rows go; every sink gets every row.'),
    sink: sinkSchema.optional().describe('Shorthand for a single sink.'),
    segregate: segregationSchema.optional(),
    on_success: onSuccess.optional(),
    on_failure: onFailure.optional(),
    reporting: reportingSchema.optional(),
    engine: engineSchema.optional(),
  })
  .strict()
  .superRefine((job, ctx) => {
    if (job.segregate) {
      if (job.sink || job.sinks || job.transforms.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['segregate'],
          message: 'a landing-zone job (segregate) routes files; it has no transforms or sinks',
        });
      }
      return;
    }
    const sinks = (job.sinks ?? (job.sink ? [job.sink] : [])) as { mode?: string; type: string }[];
    if (sinks.length > 1 && sinks.some((sink) => sink.type === 'http')) {
      // An API refuses records one by one; another sink would already hold them.
      ctx.addIssue({
        code: 'custom',
        path: ['sinks'],
        message:
          "an http sink must be the job's only sink: records the API refuses are quarantined, so no other sink may have them",
      });
    }
    if (job.on_success?.archive && sinks.some((sink) => sink.mode === 'overwrite')) {
      ctx.addIssue({
        code: 'custom',
        path: ['on_success', 'archive'],
        message:
          'archived files leave the source, so a sink with mode: overwrite would drop their rows on the next run; use mode: append',
      });
    }
    if (!job.sinks === !job.sink) {
      ctx.addIssue({
        code: 'custom',
        path: ['sinks'],
        message: job.sink ? 'give either sink or sinks, not both' : 'a job needs a sink (or sinks)',
      });
    }
  })
  .describe('An inlet job: a source, transforms and sinks.');

export type JobSpec = z.output<typeof jobSchema>;

/** The job JSON Schema (draft-07) for editors. */
export function jobJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(jobSchema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }),
    title: 'inlet job',
  };
}

export function createSource(config: { type: string }, context: ConnectorContext): Source {
  const spec = SOURCES.find((s) => s.type === config.type)!;
  return spec.create(config, context);
}

export function createSinks(job: JobSpec, context: ConnectorContext): Sink[] {
  const configs = (job.sinks ?? (job.sink ? [job.sink] : [])) as { type: string }[];
  return configs.map((config) => SINKS.find((s) => s.type === config.type)!.create(config, context));
}
