import { isIP } from 'node:net';
import type { AuditEvent, MetadataValue } from '@app/contracts';

/** What every renderer says about the product sending (CEF/LEEF header, syslog APP-NAME). */
export interface Producer {
  vendor: string;
  product: string;
  version: string;
}

const text = (v: MetadataValue | undefined): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** The actor: metadata.user_id, else metadata.operator_id (the same rule as the query store's user_id column). */
export function actorOf(event: AuditEvent): string {
  return text(event.metadata.user_id) || text(event.metadata.operator_id);
}

export function siteOf(event: AuditEvent): string {
  return text(event.metadata.site_id);
}

export function deviceOf(event: AuditEvent): string {
  return text(event.metadata.device_id);
}

/** The client address, only when it is an IP: `src` is typed IPv4/IPv6 in CEF and LEEF, and a receiver drops the event otherwise. */
export function sourceAddressOf(event: AuditEvent): string {
  return isIP(event.ip_address) ? event.ip_address : '';
}

/** Epoch milliseconds of the producer's time (the event timestamps carry microseconds; CEF `rt` takes ms). */
export function epochMillis(iso: string): number {
  return Date.parse(iso);
}
