export * from './core/tracker';
export * from './completeness.capability';
export * from './completeness.config';
export * from './completeness.port';
export * from './completeness.service';
export * from './completeness.store';
export * from './completeness.migrations';
