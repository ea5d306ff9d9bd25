export * from './config';
export * from './logger';
export * from './version';
export * from './exclusive-lock';
export * from './config-section';
export * from './data-dir-secret';
export * from './secret-box';
export * from './transport-tls';
