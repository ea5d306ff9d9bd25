export * from './data-source.factory';
export * from './postgres-ssl';
export { dumpPGlite } from './pglite-thread';
