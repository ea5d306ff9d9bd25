export * from './audit-event';
export * from './catalogue';
export * from './errors';
export * from './ids';
export * from './stream-cursor';
export * from './time';
export * from './topics';
export * from './validate-event';
