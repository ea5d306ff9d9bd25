export * from './merkle';
export * from './leaf';
export * from './note';
