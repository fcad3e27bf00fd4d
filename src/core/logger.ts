/** The logging surface inlet code uses; pino's Logger satisfies it (see observability/logger.ts). */
export interface Logger {
  debug(fields: Record<string, unknown>, event: string): void;
  info(fields: Record<string, unknown>, event: string): void;
  warn(fields: Record<string, unknown>, event: string): void;
  error(fields: Record<string, unknown>, event: string): void;
  child(bindings: Record<string, unknown>): Logger;
}
