import type { Severity } from '@app/contracts';

/**
 * CEF severity 0-10 (the spec's bands: 0-3 Low, 4-6 Medium, 7-8 High, 9-10 Very-High). Integers only: Logstash's
 * encoder falls back to 6 on anything else and format_cef raises, so a name would be lost on half the receivers.
 */
export const CEF_SEVERITY: Record<Severity, number> = { debug: 1, info: 3, warning: 5, error: 7, critical: 10 };

/** LEEF `sev` is 1-10 (QRadar's range); the same bands as CEF, debug raised to the minimum. */
export const LEEF_SEVERITY: Record<Severity, number> = { debug: 1, info: 3, warning: 5, error: 7, critical: 10 };

/** Syslog severity (RFC 5424 table 2): critical 2, error 3, warning 4, info 6, debug 7. */
export const SYSLOG_SEVERITY: Record<Severity, number> = { debug: 7, info: 6, warning: 4, error: 3, critical: 2 };

/** Facility 13 is "log audit" (RFC 5424 table 1): PRI 110 for an info event. */
export const DEFAULT_FACILITY = 13;

export function priority(facility: number, severity: Severity): number {
  return facility * 8 + SYSLOG_SEVERITY[severity];
}
