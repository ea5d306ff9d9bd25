export * from './merkle';
export * from './leaf';
export * from './note';
export * from './leaf-indices';
export * from './tree-growth';
