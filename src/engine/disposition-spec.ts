import { z } from 'zod';

const pathKey = z.string().min(1);

/**
 * The `on_success` / `on_failure` blocks of a job, over the store schema the registry
 * builds from every store connector (`store` omitted: the source's own server or bucket).
 */
export function dispositionSchemas(storeSchema: z.ZodType) {
  const target = {
    path: pathKey.describe('Folder (key prefix) in the store; on a local disk relative to the job file.'),
    store: storeSchema
      .optional()
      .describe(
        "Another store, e.g. {type: s3, bucket: …} or {connection: name}; default: the source's own.",
      ),
  };
  const onSuccess = z
    .object({
      archive: z
        .object({
          ...target,
          compress: z.boolean().default(false).describe('gzip the archived copy (name gets .gz).'),
          encrypt: z
            .boolean()
            .default(false)
            .describe(
              'Encrypt the archived copy with AES-256-GCM (INLET_ENCRYPTION_KEY or _FILE; name gets .enc).',
            ),
          lifecycle: z
            .object({
              after_days: z.number().int().min(1).describe('Archives older than this are expired.'),
              move_to: pathKey
                .optional()
                .describe(
                  'Move expired archives under this colder prefix (same store) instead of deleting them.',
                ),
            })
            .strict()
            .optional()
            .describe(
              'Housekeeping of the archive folder, run hourly by `inlet serve` and by `inlet housekeep`.',
            ),
        })
        .strict()
        .describe(
          'Move each committed file to the archive, versioned: an earlier archive is never overwritten.',
        ),
    })
    .strict()
    .describe('What happens to a source file after its rows committed.');
  const onFailure = z
    .object({
      move_to: z
        .object(target)
        .strict()
        .describe(
          'Put a file that failed (not a transient failure) aside here, with <name>.error.json beside it.',
        ),
    })
    .strict()
    .describe('What happens to a source file that failed.');
  return { onSuccess, onFailure };
}
