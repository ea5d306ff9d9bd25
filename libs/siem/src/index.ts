export * from './core';
export * from './transport/syslog-sender';
