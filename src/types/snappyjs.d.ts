/** Types for snappyjs (a maintained pure-JS Snappy codec that ships none). */
declare module 'snappyjs' {
  /** Decompresses a raw Snappy block; throws when it is corrupt or would exceed maxLength bytes. */
  export function uncompress<T extends Uint8Array>(compressed: T, maxLength?: number): T;
  export function compress<T extends Uint8Array>(uncompressed: T): T;
}
