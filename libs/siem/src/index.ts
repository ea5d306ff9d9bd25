export * from './core';
export * from './transport/syslog-sender';
export * from './integration';
export * from './integration.entity';
export * from './siem.port';
export * from './siem.config';
export * from './siem.service';
export * from './siem.capability';
