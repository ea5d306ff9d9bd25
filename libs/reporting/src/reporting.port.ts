import { ValidationError } from '@app/contracts';
import { ComponentHealth, definePort, serviceAddress } from '@app/runtime';
import { JobKind, JobState } from './reporting-job.entity';

/** Who asked: kept on the job and in the data_exported / report_generated event. */
export interface Requester {
  keyId: string;
  name: string;
  ipAddress?: string;
  userAgent?: string;
}

export interface JobView {
  id: string;
  kind: JobKind;
  state: JobState;
  progress: { rows_done: number; rows_expected: number | null };
  status_url: string;
  download_url: string | null;
  created_at: string;
  finished_at: string | null;
  expires_at: string | null;
  warnings: string[];
  error: string | null;
  file: { name: string; size: number; sha256: string; content_type: string } | null;
  manifest: Record<string, unknown> | null;
}

export interface FileChunk {
  /** Base64 of the bytes (the port crosses TCP as JSON). */
  data: string;
  eof: boolean;
}

/** Exports and reports as the HTTP controllers see them: in-process in the embedded app, over TCP in the gateway. */
export interface ReportingPort {
  startExport(tenantId: string, body: unknown, requester: Requester): Promise<JobView>;
  startReport(tenantId: string, body: unknown, requester: Requester): Promise<JobView>;
  get(tenantId: string, kind: JobKind, id: string): Promise<JobView>;
  /** Up to `length` bytes of a finished job's file from `offset`. */
  read(tenantId: string, kind: JobKind, id: string, offset: number, length: number): Promise<FileChunk>;
  /** Records the download as an audit event (the controller calls it before the first byte). */
  // Not void: a TCP reply must carry a value (an empty reply is an error on the client side).
  recordDownload(tenantId: string, kind: JobKind, id: string, requester: Requester): Promise<{ event_id: string }>;
  /** Scheduled reports: CRUD and pause (each run is a report job like startReport's). */
  createSchedule(tenantId: string, body: unknown, requester: Requester): Promise<Record<string, unknown>>;
  listSchedules(tenantId: string): Promise<Record<string, unknown>>;
  getSchedule(tenantId: string, id: string): Promise<Record<string, unknown>>;
  updateSchedule(tenantId: string, id: string, body: unknown, requester: Requester): Promise<Record<string, unknown>>;
  removeSchedule(tenantId: string, id: string, requester: Requester): Promise<Record<string, unknown>>;
  setSchedulePaused(tenantId: string, id: string, paused: boolean, requester: Requester): Promise<Record<string, unknown>>;
  /** The gateway's readiness and /audit/status: the file store answers and the job queue. */
  health(): Promise<ComponentHealth>;
}

/** The most bytes one read returns: 1 MiB (1.33 MiB as base64), so a download holds one chunk at a time. */
export const MAX_READ_BYTES = 1024 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
function fail(pattern: string, field: string, message: string): never {
  throw new ValidationError(`malformed ${pattern} request: ${field} ${message}`, [{ field, message }]);
}
function obj(pattern: string, m: unknown): Record<string, unknown> {
  if (!isObject(m)) fail(pattern, '/', 'must be an object');
  if (typeof m.tenantId !== 'string' || m.tenantId === '') fail(pattern, 'tenantId', 'must be a non-empty string');
  return m;
}
function requester(pattern: string, m: Record<string, unknown>): Requester {
  const r = m.requester;
  if (!isObject(r) || typeof r.keyId !== 'string' || typeof r.name !== 'string') fail(pattern, 'requester', 'must be { keyId, name }');
  return r as unknown as Requester;
}
function kindAndId(pattern: string, m: Record<string, unknown>): [JobKind, string] {
  if (m.kind !== 'export' && m.kind !== 'report') fail(pattern, 'kind', "must be 'export' or 'report'");
  if (typeof m.id !== 'string') fail(pattern, 'id', 'must be a string');
  return [m.kind, m.id];
}

function scheduleId(pattern: string, m: Record<string, unknown>): string {
  if (typeof m.id !== 'string') fail(pattern, 'id', 'must be a string');
  return m.id;
}

export const REPORTING_PORT_DEFINITION = definePort<ReportingPort>({
  name: 'reporting',
  service: 'reporting',
  address: serviceAddress('REPORTING', 4006),
  methods: {
    startExport: {
      pattern: 'audit.reporting.start-export',
      deadline: 'queryMs',
      encode: (tenantId, body, requester) => ({ tenantId, body, requester }),
      decode: (m) => {
        const o = obj('start-export', m);
        return [o.tenantId as string, o.body, requester('start-export', o)];
      },
    },
    startReport: {
      pattern: 'audit.reporting.start-report',
      deadline: 'queryMs',
      encode: (tenantId, body, requester) => ({ tenantId, body, requester }),
      decode: (m) => {
        const o = obj('start-report', m);
        return [o.tenantId as string, o.body, requester('start-report', o)];
      },
    },
    get: {
      pattern: 'audit.reporting.get',
      deadline: 'queryMs',
      encode: (tenantId, kind, id) => ({ tenantId, kind, id }),
      decode: (m) => {
        const o = obj('get', m);
        return [o.tenantId as string, ...kindAndId('get', o)];
      },
    },
    read: {
      pattern: 'audit.reporting.read',
      deadline: 'queryMs',
      encode: (tenantId, kind, id, offset, length) => ({ tenantId, kind, id, offset, length }),
      decode: (m) => {
        const o = obj('read', m);
        if (!Number.isSafeInteger(o.offset) || (o.offset as number) < 0) fail('read', 'offset', 'must be a whole number');
        if (!Number.isInteger(o.length) || (o.length as number) < 1 || (o.length as number) > MAX_READ_BYTES)
          fail('read', 'length', `must be between 1 and ${MAX_READ_BYTES}`);
        return [o.tenantId as string, ...kindAndId('read', o), o.offset as number, o.length as number];
      },
    },
    recordDownload: {
      pattern: 'audit.reporting.record-download',
      deadline: 'ingestMs',
      encode: (tenantId, kind, id, requester) => ({ tenantId, kind, id, requester }),
      decode: (m) => {
        const o = obj('record-download', m);
        return [o.tenantId as string, ...kindAndId('record-download', o), requester('record-download', o)];
      },
    },
    createSchedule: {
      pattern: 'audit.reporting.create-schedule',
      deadline: 'queryMs',
      encode: (tenantId, body, requester) => ({ tenantId, body, requester }),
      decode: (m) => {
        const o = obj('create-schedule', m);
        return [o.tenantId as string, o.body, requester('create-schedule', o)];
      },
    },
    listSchedules: {
      pattern: 'audit.reporting.list-schedules',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }),
      decode: (m) => [obj('list-schedules', m).tenantId as string],
    },
    getSchedule: {
      pattern: 'audit.reporting.get-schedule',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => {
        const o = obj('get-schedule', m);
        return [o.tenantId as string, scheduleId('get-schedule', o)];
      },
    },
    updateSchedule: {
      pattern: 'audit.reporting.update-schedule',
      deadline: 'queryMs',
      encode: (tenantId, id, body, requester) => ({ tenantId, id, body, requester }),
      decode: (m) => {
        const o = obj('update-schedule', m);
        return [o.tenantId as string, scheduleId('update-schedule', o), o.body, requester('update-schedule', o)];
      },
    },
    removeSchedule: {
      pattern: 'audit.reporting.remove-schedule',
      deadline: 'queryMs',
      encode: (tenantId, id, requester) => ({ tenantId, id, requester }),
      decode: (m) => {
        const o = obj('remove-schedule', m);
        return [o.tenantId as string, scheduleId('remove-schedule', o), requester('remove-schedule', o)];
      },
    },
    setSchedulePaused: {
      pattern: 'audit.reporting.set-schedule-paused',
      deadline: 'queryMs',
      encode: (tenantId, id, paused, requester) => ({ tenantId, id, paused, requester }),
      decode: (m) => {
        const o = obj('set-schedule-paused', m);
        if (typeof o.paused !== 'boolean') fail('set-schedule-paused', 'paused', 'must be a boolean');
        return [o.tenantId as string, scheduleId('set-schedule-paused', o), o.paused as boolean, requester('set-schedule-paused', o)];
      },
    },
    health: { pattern: 'audit.reporting.health', deadline: 'healthMs', encode: () => ({}), decode: () => [] },
  },
});

export const REPORTING_PORT = REPORTING_PORT_DEFINITION.token;
