export * from './cef';
export * from './leef';
export * from './syslog';
export * from './severity';
export * from './event-fields';
export * from './render';
export * from './framing';
export * from './lag';
