import { IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateBy } from 'class-validator';
import { ValidationError } from '@app/contracts';
import { ComponentHealth, decodeDto, definePort, serviceAddress } from '@app/runtime';
import type { ArchiveManifest } from './archive.repository';
import type { HoldInput, HoldView, JobView, PendingView, PolicyChangeResult } from './retention.service';

/**
 * A required, non-empty string of at most `max` characters as one check, so a missing value reads "is required"
 * instead of every length and type message stacked.
 */
function RequiredText(max: number): PropertyDecorator {
  return ValidateBy({
    name: 'requiredText',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= max,
      defaultMessage: (args) =>
        args === undefined || args.value === undefined || args.value === null || args.value === ''
          ? `${args?.property ?? 'value'} is required`
          : typeof args.value !== 'string'
            ? `${args.property} must be a string`
            : `${args.property} must be at most ${max} characters`,
    },
  });
}

/** The body of POST /audit/legal-holds (the tenant is the API key's). */
export class LegalHoldDto implements HoldInput {
  /** A category or an alias of one (`security`): stored as the category; an unknown one is a 400 (the service's check). */
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9_]{0,63}$/, { message: 'category must be a category name (lower case, digits, underscore)' })
  category?: string;

  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 timestamp' })
  from!: string;

  @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 timestamp' })
  to!: string;

  @RequiredText(2000)
  reason!: string;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  case_id?: string;
}

/** The body of POST /audit/archives/:id/restore. */
export class RestoreDto {
  /** The age identity to decrypt with (else AUDIT_ARCHIVE_IDENTITY); used for this request only, never stored. */
  @IsOptional()
  @Matches(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/, { message: 'identity must be an age identity (AGE-SECRET-KEY-1…)' })
  identity?: string;

  /** How long the restored day stays online before the run offloads it again (default 7, at most 365). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(365)
  ttl_days?: number;
}

/** Retention as the API sees it: in-process in the embedded app, over TCP (the retention service) in the gateway. */
export interface RetentionPort {
  setPolicy(tenantId: string, body: unknown, actor: string): Promise<PolicyChangeResult>;
  getPolicy(tenantId: string): Promise<Record<string, unknown>>;
  /** The policy in force alone (`policy`, `updated_at`, `updated_by` as getPolicy has them), without reading the store: what reports cite. */
  policyInForce(tenantId: string): Promise<Record<string, unknown>>;
  cancelChange(tenantId: string, id: string, actor: string): Promise<PendingView>;
  placeHold(tenantId: string, hold: LegalHoldDto, actor: string): Promise<HoldView>;
  listHolds(tenantId: string, includeReleased: boolean): Promise<HoldView[]>;
  releaseHold(tenantId: string, id: string, actor: string): Promise<HoldView>;
  /** Queues a run (a job); answers it at once. */
  run(tenantId: string, actor: string): Promise<JobView>;
  listArchives(tenantId: string): Promise<ArchiveManifest[]>;
  /** Queues a restore (a job); answers it at once. */
  restore(tenantId: string, id: string, request: RestoreDto, actor: string): Promise<JobView>;
  listJobs(tenantId: string): Promise<JobView[]>;
  getJob(tenantId: string, id: string): Promise<JobView>;
  health(): Promise<ComponentHealth>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function envelope(pattern: string, m: unknown, fields: string[]): Record<string, unknown> {
  if (!isObject(m)) throw new ValidationError(`malformed ${pattern} request`, [{ field: '/', message: 'must be an object' }]);
  for (const f of fields) {
    if (typeof m[f] !== 'string' || m[f] === '') {
      throw new ValidationError(`malformed ${pattern} request: ${f} must be a non-empty string`, [
        { field: f, message: 'must be a non-empty string' },
      ]);
    }
  }
  return m;
}

const decodeHold = decodeDto(LegalHoldDto);
const decodeRestore = decodeDto(RestoreDto);

export const RETENTION_PORT_DEFINITION = definePort<RetentionPort>({
  name: 'retention',
  service: 'retention',
  address: serviceAddress('RETENTION', 4005),
  methods: {
    setPolicy: {
      pattern: 'audit.retention.set-policy',
      deadline: 'queryMs',
      encode: (tenantId, body, actor) => ({ tenantId, body, actor }),
      // The policy body is checked by the service's validatePolicy, the one definition of a valid policy.
      decode: (m) => {
        const e = envelope('set-policy', m, ['tenantId', 'actor']);
        return [e.tenantId as string, e.body, e.actor as string];
      },
    },
    getPolicy: {
      pattern: 'audit.retention.get-policy',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }),
      decode: (m) => [envelope('get-policy', m, ['tenantId']).tenantId as string],
    },
    policyInForce: {
      pattern: 'audit.retention.policy-in-force',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }),
      decode: (m) => [envelope('policy-in-force', m, ['tenantId']).tenantId as string],
    },
    cancelChange: {
      pattern: 'audit.retention.cancel-change',
      deadline: 'queryMs',
      encode: (tenantId, id, actor) => ({ tenantId, id, actor }),
      decode: (m) => {
        const e = envelope('cancel-change', m, ['tenantId', 'id', 'actor']);
        return [e.tenantId as string, e.id as string, e.actor as string];
      },
    },
    placeHold: {
      pattern: 'audit.retention.place-hold',
      deadline: 'queryMs',
      encode: (tenantId, hold, actor) => ({ tenantId, hold, actor }),
      decode: (m) => {
        const e = envelope('place-hold', m, ['tenantId', 'actor']);
        return [e.tenantId as string, decodeHold(e.hold), e.actor as string];
      },
    },
    listHolds: {
      pattern: 'audit.retention.list-holds',
      deadline: 'queryMs',
      encode: (tenantId, includeReleased) => ({ tenantId, includeReleased }),
      decode: (m) => {
        const e = envelope('list-holds', m, ['tenantId']);
        return [e.tenantId as string, e.includeReleased === true];
      },
    },
    releaseHold: {
      pattern: 'audit.retention.release-hold',
      deadline: 'queryMs',
      encode: (tenantId, id, actor) => ({ tenantId, id, actor }),
      decode: (m) => {
        const e = envelope('release-hold', m, ['tenantId', 'id', 'actor']);
        return [e.tenantId as string, e.id as string, e.actor as string];
      },
    },
    run: {
      pattern: 'audit.retention.run',
      deadline: 'queryMs',
      encode: (tenantId, actor) => ({ tenantId, actor }),
      decode: (m) => {
        const e = envelope('run', m, ['tenantId', 'actor']);
        return [e.tenantId as string, e.actor as string];
      },
    },
    listArchives: {
      pattern: 'audit.retention.list-archives',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }),
      decode: (m) => [envelope('list-archives', m, ['tenantId']).tenantId as string],
    },
    restore: {
      pattern: 'audit.retention.restore',
      deadline: 'queryMs',
      encode: (tenantId, id, request, actor) => ({ tenantId, id, request, actor }),
      decode: (m) => {
        const e = envelope('restore', m, ['tenantId', 'id', 'actor']);
        return [e.tenantId as string, e.id as string, decodeRestore(e.request ?? {}), e.actor as string];
      },
    },
    listJobs: {
      pattern: 'audit.retention.list-jobs',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }),
      decode: (m) => [envelope('list-jobs', m, ['tenantId']).tenantId as string],
    },
    getJob: {
      pattern: 'audit.retention.get-job',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => {
        const e = envelope('get-job', m, ['tenantId', 'id']);
        return [e.tenantId as string, e.id as string];
      },
    },
    health: { pattern: 'audit.retention.health', deadline: 'healthMs', encode: () => ({}), decode: () => [] },
  },
});

export const RETENTION_PORT = RETENTION_PORT_DEFINITION.token;
