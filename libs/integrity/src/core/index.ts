export * from './merkle';
export * from './leaf';
export * from './note';
export * from './leaf-indices';
