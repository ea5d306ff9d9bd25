import { deviceName, siteName } from './mix';

export interface QuerySpec {
  name: string;
  /** Path and query string as a client sends it. */
  path: string;
  kind: 'page' | 'statistics' | 'metadata';
}

/** A device and a site of middling popularity in the generated fleet (see bench/workers/seed.ts). */
export const PROBE_DEVICE = deviceName(1000);
export const PROBE_SITE = siteName(25);

/** The user guide's query examples ("Viewing Audit Events", "Audit Query Examples"), statistics and metadata filters. */
export const QUERIES: QuerySpec[] = [
  { name: 'recent (default page)', path: '/audit/events', kind: 'page' },
  { name: 'limit=50&offset=0', path: '/audit/events?limit=50&offset=0', kind: 'page' },
  { name: 'category=security', path: '/audit/events?category=security', kind: 'page' },
  { name: 'event_type=device_registered', path: '/audit/events?event_type=device_registered', kind: 'page' },
  { name: 'event_type=login_failed&since=24h', path: '/audit/events?event_type=login_failed&since=24h', kind: 'page' },
  { name: 'category=security&severity=critical', path: '/audit/events?category=security&severity=critical', kind: 'page' },
  { name: 'event_type=api_access&limit=1000', path: '/audit/events?event_type=api_access&limit=1000', kind: 'page' },
  { name: 'category=device_management&severity=error', path: '/audit/events?category=device_management&severity=error', kind: 'page' },
  { name: 'event_type=job_failed&since=7d', path: '/audit/events?event_type=job_failed&since=7d', kind: 'page' },
  { name: 'category=system_events&since=24h', path: '/audit/events?category=system_events&since=24h', kind: 'page' },
  {
    name: 'category=user_actions&metadata.user_id=admin',
    path: '/audit/events?category=user_actions&metadata.user_id=admin',
    kind: 'page',
  },
  { name: 'event_type=admin_action&since=30d', path: '/audit/events?event_type=admin_action&since=30d', kind: 'page' },
  { name: 'event_type=config_updated&since=7d', path: '/audit/events?event_type=config_updated&since=7d', kind: 'page' },
  { name: 'statistics', path: '/audit/statistics', kind: 'statistics' },
  { name: 'statistics/detailed', path: '/audit/statistics/detailed', kind: 'statistics' },
  { name: `metadata.device_id=${PROBE_DEVICE}`, path: `/audit/events?metadata.device_id=${PROBE_DEVICE}`, kind: 'metadata' },
  { name: `metadata.site_id=${PROBE_SITE}`, path: `/audit/events?metadata.site_id=${PROBE_SITE}`, kind: 'metadata' },
  // The console's histogram: 24 hours of the roll-up by severity.
  { name: 'statistics/timeline', path: '/audit/statistics/timeline?breakdown=severity&hours=24', kind: 'statistics' },
];

export const TARGET_P95_MS: Record<QuerySpec['kind'], number> = { page: 50, statistics: 30, metadata: 200 };
