export * from './core';
export * from './integrity.capability';
export * from './integrity.config';
export * from './integrity.port';
export * from './integrity.service';
export * from './tree.store';
export * from './migrations';
export * from './signing-key';
