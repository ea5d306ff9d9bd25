export * from './backup.capability';
export * from './backup.port';
export * from './snapshot';
