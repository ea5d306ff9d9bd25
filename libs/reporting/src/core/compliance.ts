/**
 * Which events prove which control: the mapping as data, in the catalogue's style (one row per control),
 * after docs/research (PCI DSS v4.0.1 numbering, not v3.2.1's). A control is proved by events of its types
 * in the period; the report says how many, shows a sample and gives the search that returns all of them.
 */
import { CATEGORY_IDS } from '@app/contracts';
import { periodDays, RetentionStanding } from './capability-evidence';

export const FRAMEWORKS = ['PCI DSS v4.0.1', 'SOC 2', 'HIPAA', 'SOX', 'GDPR'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export type ControlStatus = 'satisfied' | 'gap' | 'not_applicable' | 'insufficient_data';

/**
 * - events: satisfied by at least one event of `eventTypes` in the period.
 * - record_fields: every record in the period carries the fields the control names (PCI 10.2.2).
 * - retention: needs the retention policy in force compared with `minimumPeriod`.
 */
export type ControlKind = 'events' | 'record_fields' | 'retention';

export interface ControlDefinition {
  framework: Framework;
  control: string;
  title: string;
  kind: ControlKind;
  /** The event types that are evidence for it. */
  eventTypes: string[];
  /** The categories those events belong to: out of the report's categories, the control is not applicable. */
  categories: string[];
  /**
   * For a retention control: the framework's minimum, an ISO 8601 period compared in days at the report's
   * time (7 calendar years are 2556 or 2557 days), as the retention capability compares its presets.
   */
  minimumPeriod?: string;
}

const { SEC, USR, SITE, DEV, JOB, SYS, BIZ } = CATEGORY_IDS;

const c = (
  framework: Framework,
  control: string,
  title: string,
  eventTypes: string[],
  categories: string[],
  kind: ControlKind = 'events',
  minimumPeriod?: string,
): ControlDefinition => ({ framework, control, title, kind, eventTypes, categories, ...(minimumPeriod ? { minimumPeriod } : {}) });

const AUDIT_ACCESS = ['data_exported', 'report_generated'];
const INVALID_ACCESS = ['login_failed', 'unauthorized_access', 'permission_denied'];
const CREDENTIALS = ['user_created', 'user_deleted', 'password_changed', 'permission_changed', 'certificate_issued', 'certificate_revoked'];
const ADMIN = ['admin_action', 'config_updated', 'device_updated', 'site_config_changed', 'permission_changed'];
const LOG_LIFECYCLE = ['system_startup', 'system_shutdown', 'service_restart'];
const SYSTEM_OBJECTS = ['device_registered', 'device_removed', 'site_created', 'site_deleted', 'job_created'];
const AUTHENTICATION = ['login_attempt', 'login_success', 'login_failed', 'user_login', 'user_logout', 'api_access', 'permission_denied'];
const ANOMALIES = ['unauthorized_access', 'security_policy_violation', 'login_failed', 'system_error', 'device_error'];
const CONTROL_FAILURES = ['system_error', 'backup_failed', 'job_failed', 'device_error'];

export const CONTROLS: ControlDefinition[] = [
  c('PCI DSS v4.0.1', '10.2.1.1', 'All individual user access to cardholder data', ['api_access', 'transaction_processed'], [SEC, BIZ]),
  c('PCI DSS v4.0.1', '10.2.1.2', 'All actions by anyone with administrative access', ADMIN, [USR, SYS, DEV, SITE]),
  c('PCI DSS v4.0.1', '10.2.1.3', 'All access to audit logs', AUDIT_ACCESS, [SEC]),
  c('PCI DSS v4.0.1', '10.2.1.4', 'All invalid logical access attempts', INVALID_ACCESS, [SEC]),
  c('PCI DSS v4.0.1', '10.2.1.5', 'All changes to identification and authentication credentials', CREDENTIALS, [USR, SEC]),
  c('PCI DSS v4.0.1', '10.2.1.6', 'Initialization, starting, stopping or pausing of the audit logs', LOG_LIFECYCLE, [SYS]),
  c('PCI DSS v4.0.1', '10.2.1.7', 'Creation and deletion of system-level objects', SYSTEM_OBJECTS, [DEV, SITE, JOB]),
  c('PCI DSS v4.0.1', '10.2.2', 'Each record: user, type, time, success/failure, origin, affected resource', [], [], 'record_fields'),
  c('PCI DSS v4.0.1', '10.5.1', 'Audit log history retained at least 12 months', [], [], 'retention', 'P1Y'),
  c('PCI DSS v4.0.1', '10.7.2', 'Failures of critical security control systems detected and alerted', CONTROL_FAILURES, [SYS, JOB, DEV]),
  c('SOC 2', 'CC6.1', 'Logical access security software and infrastructure', AUTHENTICATION, [SEC, USR]),
  c(
    'SOC 2',
    'CC6.2',
    'Users registered and authorized before credentials; removed when no longer authorized',
    ['user_created', 'user_deleted', 'certificate_issued', 'certificate_revoked'],
    [USR, SEC],
  ),
  c('SOC 2', 'CC6.3', 'Access authorized, modified and removed by role', ['permission_changed', 'admin_action'], [USR]),
  c('SOC 2', 'CC7.2', 'Components monitored for anomalies', ANOMALIES, [SEC, SYS, DEV]),
  c(
    'SOC 2',
    'CC7.3',
    'Security events evaluated to determine whether they are incidents',
    ['security_policy_violation', 'unauthorized_access'],
    [SEC],
  ),
  c(
    'HIPAA',
    '164.312(b)',
    'Audit controls: activity in information systems recorded and examined',
    [...AUTHENTICATION, ...AUDIT_ACCESS],
    [SEC, USR],
  ),
  c('HIPAA', '164.316(b)(2)(i)', 'Documentation retained 6 years', [], [], 'retention', 'P6Y'),
  c('SOX', '802 / 17 CFR 210.2-06', 'Audit records retained 7 years', [], [], 'retention', 'P7Y'),
  c(
    'SOX',
    'ITGC change management',
    'Changes to systems and configuration recorded',
    ['config_updated', 'firmware_updated', 'site_config_changed', 'admin_action'],
    [SYS, DEV, SITE, USR],
  ),
  c('GDPR', 'Art. 5(1)(e)', 'Storage limitation: kept no longer than necessary', [], [], 'retention'),
  c('GDPR', 'Art. 17', 'Erasure of personal data recorded', ['user_deleted'], [USR]),
  c('GDPR', 'Art. 30', 'Record of processing: exports and reports of the audit data', AUDIT_ACCESS, [SEC]),
  c(
    'GDPR',
    'Art. 32',
    'Security of processing: integrity, confidentiality, key management',
    ['encryption_key_rotated', 'backup_completed', 'backup_failed', 'certificate_issued'],
    [SEC, SYS],
  ),
];

/** What the report gathered for a control. */
export interface ControlEvidence {
  /** Events of the control's types in the period (events) or records lacking a required field (record_fields). */
  count: number;
  /** Every event in the period, within the report's categories. */
  totalEvents: number;
  /** The report's categories (canonical); empty: all. */
  categories: string[];
  /** The retention in force for the report's categories, or why it is not known (retention controls only). */
  retention?: RetentionStanding;
}

export interface ControlResult {
  status: ControlStatus;
  reason: string;
}

/**
 * A control's status from the evidence counts. No events at all in the period is insufficient data, not a
 * gap: an empty store cannot show anything either way. A control whose categories the report leaves out is
 * not applicable to it.
 */
export function controlStatus(control: ControlDefinition, evidence: ControlEvidence): ControlResult {
  if (control.kind === 'retention') {
    const r = evidence.retention ?? { missing: 'not read' };
    if ('missing' in r) return { status: 'insufficient_data', reason: `retention: ${r.missing}` };
    const minimum = control.minimumPeriod !== undefined ? periodDays(control.minimumPeriod, r.at) : undefined;
    if (minimum === undefined) return { status: 'satisfied', reason: `retention policy in force: ${r.days} days` };
    const asks = `minimum ${minimum} (${control.minimumPeriod})`;
    return r.days >= minimum
      ? { status: 'satisfied', reason: `retention ${r.days} days >= ${asks}` }
      : { status: 'gap', reason: `retention ${r.days} days < ${asks}` };
  }
  const inScope =
    evidence.categories.length === 0 || control.categories.length === 0 || control.categories.some((x) => evidence.categories.includes(x));
  if (!inScope) return { status: 'not_applicable', reason: `none of ${control.categories.join(', ')} is in the report's categories` };
  if (evidence.totalEvents === 0) return { status: 'insufficient_data', reason: 'no events in the period' };
  if (control.kind === 'record_fields') {
    return evidence.count === 0
      ? { status: 'satisfied', reason: `all ${evidence.totalEvents} records carry user, type, time, origin and resource` }
      : { status: 'gap', reason: `${evidence.count} of ${evidence.totalEvents} records lack a user, origin or resource` };
  }
  return evidence.count > 0
    ? { status: 'satisfied', reason: `${evidence.count} evidence events` }
    : { status: 'gap', reason: `no ${control.eventTypes.join(' / ')} events in the period` };
}

/**
 * Whether a record has what PCI DSS 10.2.2 asks of each: user identification (metadata.user_id or
 * operator_id, or a session), type and time (always set), origin (source or client address) and the affected
 * resource (metadata.resource, device_id, site_id or job_id). Success/failure is implied by the event type.
 */
export function lacksRequiredFields(event: {
  metadata: Record<string, unknown>;
  source: string;
  ip_address: string;
  session_id: string;
}): boolean {
  const m = event.metadata ?? {};
  const user = m.user_id ?? m.operator_id ?? m.actor ?? (event.session_id || undefined);
  const origin = event.source || event.ip_address;
  const resource = m.resource ?? m.device_id ?? m.site_id ?? m.job_id ?? m.endpoint ?? m.path;
  return user === undefined || user === '' || !origin || resource === undefined || resource === '';
}
