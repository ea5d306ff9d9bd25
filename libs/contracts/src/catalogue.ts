import { Severity } from './audit-event';

export interface EventTypeDefinition {
  event_type: string;
  category: string;
  severity: Severity;
  description: string;
}

export interface CategoryDefinition {
  category: string;
  description: string;
  aliases: string[];
}

export const CATEGORIES: CategoryDefinition[] = [
  {
    category: 'security_events',
    description: 'Authentication, API access, authorization, policy, certificates and encryption',
    aliases: ['security'],
  },
  {
    category: 'user_actions',
    description: 'Logins and logouts, profiles, administrative actions, permissions, accounts',
    aliases: ['user', 'users', 'user_action'],
  },
  { category: 'site_management', description: 'Sites: creation, configuration, deletion, location, health', aliases: ['site', 'sites'] },
  {
    category: 'device_management',
    description: 'Devices: registration, status, health checks, configuration, firmware',
    aliases: ['device', 'devices'],
  },
  {
    category: 'job_management',
    description: 'Jobs: creation, scheduling, progress, completion, queues, priorities',
    aliases: ['job', 'jobs'],
  },
  {
    category: 'system_events',
    description: 'Start-up and shutdown, restarts, database, backups, errors, configuration',
    aliases: ['system'],
  },
  { category: 'business_events', description: 'Custom business events such as transactions', aliases: ['business'] },
];

const t = (event_type: string, category: string, severity: Severity, description: string): EventTypeDefinition => ({
  event_type,
  category,
  severity,
  description,
});

/** The built-in categories by short name, for tables of event types (here, and the compliance mapping). */
export const CATEGORY_IDS = {
  SEC: 'security_events',
  USR: 'user_actions',
  SITE: 'site_management',
  DEV: 'device_management',
  JOB: 'job_management',
  SYS: 'system_events',
  BIZ: 'business_events',
} as const;
const { SEC, USR, SITE, DEV, JOB, SYS } = CATEGORY_IDS;

export const EVENT_TYPES: EventTypeDefinition[] = [
  t('login_attempt', SEC, 'info', 'User login attempt'),
  t('login_success', SEC, 'info', 'Successful login'),
  t('login_failed', SEC, 'warning', 'Failed login attempt'),
  t('unauthorized_access', SEC, 'critical', 'Unauthorized access attempt'),
  t('api_access', SEC, 'info', 'API endpoint access'),
  t('permission_denied', SEC, 'warning', 'Access denied'),
  t('security_policy_violation', SEC, 'error', 'Security policy violated'),
  t('certificate_issued', SEC, 'info', 'Certificate issued'),
  t('certificate_expiring', SEC, 'warning', 'Certificate close to expiry'),
  t('certificate_revoked', SEC, 'warning', 'Certificate revoked'),
  t('encryption_key_rotated', SEC, 'info', 'Encryption key rotated'),
  t('data_exported', SEC, 'info', 'Audit data exported (written by the reporting capability)'),
  t('report_generated', SEC, 'info', 'Audit report generated (written by the reporting capability)'),
  t('user_login', USR, 'info', 'User logged in'),
  t('user_logout', USR, 'info', 'User logged out'),
  t('profile_updated', USR, 'info', 'User profile changed'),
  t('admin_action', USR, 'info', 'Administrative action'),
  t('permission_changed', USR, 'warning', 'User permissions changed'),
  t('user_created', USR, 'info', 'Account created'),
  t('user_deleted', USR, 'warning', 'Account deleted'),
  t('password_changed', USR, 'info', 'Password changed'),
  t('site_created', SITE, 'info', 'Site created'),
  t('site_updated', SITE, 'info', 'Site updated'),
  t('site_config_changed', SITE, 'info', 'Site configuration changed'),
  t('site_deleted', SITE, 'warning', 'Site deleted'),
  t('site_archived', SITE, 'info', 'Site archived'),
  t('site_location_updated', SITE, 'info', 'Site location updated'),
  t('site_health_changed', SITE, 'warning', 'Site health status changed'),
  t('device_registered', DEV, 'info', 'New device registration'),
  t('device_updated', DEV, 'info', 'Device configuration update'),
  t('device_health_check', DEV, 'info', 'Health check performed'),
  t('device_offline', DEV, 'warning', 'Device went offline'),
  t('device_error', DEV, 'error', 'Device error occurred'),
  t('device_restart', DEV, 'info', 'Device restart initiated'),
  t('device_removed', DEV, 'warning', 'Device removed'),
  t('device_status_changed', DEV, 'info', 'Device status changed'),
  t('firmware_updated', DEV, 'info', 'Firmware or software updated'),
  t('job_created', JOB, 'info', 'New job created'),
  t('job_scheduled', JOB, 'info', 'Job scheduled'),
  t('job_started', JOB, 'info', 'Job execution started'),
  t('job_progress', JOB, 'info', 'Job execution progress'),
  t('job_completed', JOB, 'info', 'Job completed successfully'),
  t('job_failed', JOB, 'error', 'Job execution failed'),
  t('job_cancelled', JOB, 'warning', 'Job was cancelled'),
  t('job_timeout', JOB, 'error', 'Job timed out'),
  t('queue_updated', JOB, 'info', 'Job queue changed'),
  t('job_priority_changed', JOB, 'info', 'Job priority changed'),
  t('system_startup', SYS, 'info', 'System started'),
  t('system_shutdown', SYS, 'warning', 'System shut down'),
  t('service_restart', SYS, 'warning', 'Service restarted'),
  t('database_operation', SYS, 'info', 'Database operation'),
  t('backup_started', SYS, 'info', 'Backup started'),
  t('backup_completed', SYS, 'info', 'Backup completed'),
  t('backup_failed', SYS, 'error', 'Backup failed'),
  t('system_error', SYS, 'error', 'Error condition'),
  t('config_updated', SYS, 'info', 'Configuration changed'),
  t('audit_test', SYS, 'info', 'Test event written by POST /audit/test'),
];

const byType = new Map(EVENT_TYPES.map((d) => [d.event_type, d]));
const categoryByName = new Map<string, string>();
for (const c of CATEGORIES) {
  categoryByName.set(c.category, c.category);
  for (const a of c.aliases) categoryByName.set(a, c.category);
}

export function findEventType(eventType: string): EventTypeDefinition | undefined {
  return byType.get(eventType);
}

/** Maps an alias ('security') to its canonical category ('security_events'); anything else is returned as given. */
export function canonicalCategory(category: string): string {
  return categoryByName.get(category) ?? category;
}

export function isKnownCategory(category: string): boolean {
  return categoryByName.has(category);
}
