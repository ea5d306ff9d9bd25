export * from './audit-event';
export * from './catalogue';
export * from './errors';
export * from './ids';
export * from './time';
export * from './topics';
export * from './validate-event';
export * from './json-structure';
