import { EVENT_TYPES, EventTypeDefinition } from '@app/contracts';

/**
 * How often each catalogue type occurs in a HOMEPOT fleet, relative to each other: health checks, API access
 * and job progress dominate; security incidents, deletions and backups are rare. Types not listed weigh 0.3.
 */
const WEIGHTS: Record<string, number> = {
  device_health_check: 16,
  api_access: 12,
  job_progress: 8,
  device_status_changed: 6,
  login_attempt: 5,
  login_success: 5,
  user_login: 4,
  user_logout: 4,
  job_started: 3,
  job_completed: 3,
  job_created: 3,
  database_operation: 3,
  job_scheduled: 2,
  queue_updated: 2,
  device_updated: 2,
  login_failed: 1.5,
  firmware_updated: 1,
  device_offline: 1,
  device_restart: 1,
  admin_action: 0.8,
  permission_denied: 0.7,
  device_error: 0.6,
  job_failed: 0.5,
  config_updated: 0.5,
  device_registered: 0.5,
  profile_updated: 0.5,
  site_health_changed: 0.4,
  job_timeout: 0.2,
  system_error: 0.2,
  unauthorized_access: 0.1,
  security_policy_violation: 0.1,
  backup_started: 0.1,
  backup_completed: 0.1,
  backup_failed: 0.01,
  site_created: 0.05,
  site_deleted: 0.01,
  user_deleted: 0.02,
  certificate_issued: 0.05,
  certificate_expiring: 0.05,
  certificate_revoked: 0.01,
  encryption_key_rotated: 0.01,
  system_startup: 0.01,
  system_shutdown: 0.01,
  service_restart: 0.02,
  audit_test: 0.001,
};

export const MIX: Array<EventTypeDefinition & { weight: number }> = EVENT_TYPES.map((d) => ({
  ...d,
  weight: WEIGHTS[d.event_type] ?? 0.3,
}));

/** The mix as `slots` entries, each type taking a share proportional to its weight (at least one slot). */
export function mixSlots(slots: number): EventTypeDefinition[] {
  const total = MIX.reduce((a, m) => a + m.weight, 0);
  const out: EventTypeDefinition[] = [];
  for (const m of MIX) {
    const n = Math.max(1, Math.round((m.weight / total) * slots));
    for (let i = 0; i < n; i++) out.push(m);
  }
  return out;
}

export const FLEET = { sites: 500, devices: 20_000, users: 2_000 } as const;

export const siteName = (n: number): string => `SITE_${String(n).padStart(4, '0')}`;
export const deviceName = (n: number): string => `POS_${String(n).padStart(6, '0')}`;
export const userName = (n: number): string => `user_${String(n).padStart(4, '0')}`;

/** Deterministic PRNG (mulberry32), so every run sends the same bodies. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The spec's example event: what a POS fleet sends most of the time. */
export const SINGLE_EVENT = {
  event_type: 'device_registered',
  category: 'device_management',
  description: 'Device POS_TERMINAL_001 registered at RESTAURANT_001',
  metadata: {
    site_id: 'RESTAURANT_001',
    device_id: 'POS_TERMINAL_001',
    device_type: 'pos_terminal',
    operator_id: 'admin',
    location: 'Counter 1',
  },
  ip_address: '192.168.1.100',
  session_id: 'sess_abc123',
  severity: 'info',
};

/** `count` events drawn from the mix, with metadata spread over the fleet. */
export function eventBatch(count: number, seed = 1): Array<Record<string, unknown>> {
  const rnd = prng(seed);
  const slots = mixSlots(1000);
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < count; i++) {
    const t = slots[Math.floor(rnd() * slots.length)];
    const device = Math.floor(FLEET.devices * rnd() ** 1.5);
    const site = Math.floor(device / (FLEET.devices / FLEET.sites));
    const user = Math.floor(FLEET.users * rnd() ** 2);
    const metadata: Record<string, string | number> = { site_id: siteName(site), device_id: deviceName(device) };
    if (t.category === 'user_actions' || t.category === 'security_events') metadata.user_id = rnd() < 0.05 ? 'admin' : userName(user);
    if (t.category === 'job_management') metadata.job_id = `job_${Math.floor(rnd() * 1e6)}`;
    if (t.category === 'device_management') metadata.device_type = 'pos_terminal';
    out.push({
      event_type: t.event_type,
      description: `${t.description}: ${deviceName(device)} at ${siteName(site)}`,
      metadata,
      ip_address: `10.${site % 256}.${device % 256}.${(device >> 8) % 256}`,
      session_id: `sess_${(device * 7919).toString(16)}`,
      source: t.category === 'device_management' ? 'device-agent' : 'homepot-api',
    });
  }
  return out;
}
