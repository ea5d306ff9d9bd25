export * from './config';
export * from './logger';
export * from './version';
export * from './exclusive-lock';
export * from './config-section';
export * from './transport-tls';
