export { localStore } from './object-store.ts';
export { fileSink } from './sink.ts';
export { fileSource } from './source.ts';
