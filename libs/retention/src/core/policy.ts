import { canonicalCategory, CATEGORIES, ErrorDetail, isKnownCategory, ValidationError } from '@app/contracts';
import { days, formatPeriod, parsePeriod, Period, shorterAt } from './period';

/** What a policy body may say (the guide's four fields, plus calendar periods, a preset and per-category overrides). */
export interface RetentionPolicyInput {
  retention_days?: number;
  retention_period?: string;
  archive_after_days?: number;
  archive_after_period?: string;
  compress_archives?: boolean;
  encryption_required?: boolean;
  preset?: string;
  categories?: Record<string, CategoryOverrideInput>;
}

export interface CategoryOverrideInput {
  retention_days?: number;
  retention_period?: string;
  archive_after_days?: number;
  archive_after_period?: string;
}

/** How long one category (or the tenant's default) is kept, and when it leaves the hot store. */
export interface RetentionRule {
  retention: Period;
  /** Absent: never archived, deleted from the hot store once past retention. */
  archiveAfter?: Period;
}

export interface RetentionPolicy extends RetentionRule {
  compress: boolean;
  encryptionRequired: boolean;
  preset?: PresetName;
  categories: Record<string, RetentionRule>;
}

export type PresetName = 'pci_dss' | 'hipaa' | 'sox';

/** The regulations' minimums. PCI DSS 10.5.1: a year, the last three months immediately available. */
export const PRESETS: Record<PresetName, { label: string; retention: Period; online?: Period }> = {
  pci_dss: { label: 'PCI DSS 10.5.1', retention: { years: 1, months: 0, days: 0 }, online: { years: 0, months: 3, days: 0 } },
  hipaa: { label: 'HIPAA 45 CFR 164.316(b)(2)', retention: { years: 6, months: 0, days: 0 } },
  sox: { label: 'SOX (17 CFR 210.2-06)', retention: { years: 7, months: 0, days: 0 } },
};

const MAX_DAYS = 36_500;
const CATEGORY = /^[a-z][a-z0-9_]{0,63}$/;

class Problems {
  readonly details: ErrorDetail[] = [];
  add(field: string, message: string): void {
    this.details.push({ field, message });
  }
}

function lengthOf(
  problems: Problems,
  prefix: string,
  name: 'retention' | 'archive_after',
  input: { [k: string]: unknown },
): Period | undefined {
  const daysField = `${name}_days`;
  const periodField = `${name}_period`;
  const d = input[daysField];
  const p = input[periodField];
  if (d !== undefined && p !== undefined) {
    problems.add(`${prefix}/${periodField}`, `give ${daysField} or ${periodField}, not both`);
    return undefined;
  }
  if (d !== undefined) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d <= 0 || d > MAX_DAYS) {
      problems.add(`${prefix}/${daysField}`, `must be a whole number of days between 1 and ${MAX_DAYS}`);
      return undefined;
    }
    return days(d);
  }
  if (p !== undefined) {
    const parsed = typeof p === 'string' ? parsePeriod(p) : undefined;
    if (!parsed) {
      problems.add(`${prefix}/${periodField}`, 'must be a non-zero ISO 8601 period such as P7Y, P18M or P90D');
      return undefined;
    }
    return parsed;
  }
  return undefined;
}

function checkOrder(problems: Problems, prefix: string, rule: Partial<RetentionRule>, now: Date): void {
  if (rule.retention && rule.archiveAfter && shorterAt(rule.retention, rule.archiveAfter, now)) {
    problems.add(`${prefix}/archive_after_days`, `must not be longer than the retention (${formatPeriod(rule.retention)})`);
  }
}

export interface ValidatedPolicy {
  policy: RetentionPolicy;
  /** Not errors: e.g. a policy shorter than the preset it names. */
  warnings: string[];
}

/**
 * Why a name is no category that holds and policy overrides can take; undefined for a category or an alias of
 * one. Stored events carry the canonical name (ingest maps `security` to `security_events`, as search does), so
 * an alias is taken as its category and an unknown name refused: matched literally, either would protect nothing.
 */
function notACategory(name: string): string | undefined {
  if (isKnownCategory(name)) return undefined;
  return `'${name.slice(0, 64)}' is not a category; one of ${CATEGORIES.map((c) => c.category).join(', ')} (or an alias of one, GET /audit/event-types)`;
}

/** A legal hold's category, canonical; a ValidationError naming `field` for an unknown one. */
export function canonicalRetentionCategory(field: string, name: string): string {
  const message = notACategory(name);
  if (message) throw new ValidationError(`${field}: ${message}`, [{ field, message }]);
  return canonicalCategory(name);
}

/**
 * Checks a policy body and normalises it. `now` decides calendar comparisons (P7Y against 2555 days). Throws a
 * ValidationError naming every wrong field; a policy shorter than the preset it names is a warning, since a
 * tenant may have reasons (and the change is gated and audited anyway). `stored`: the body is a policy stored
 * before category names were checked, so an unknown override is kept (it matches nothing) instead of refused,
 * and a policy in force always reads back.
 */
export function validatePolicy(input: RetentionPolicyInput, now: Date, stored = false): ValidatedPolicy {
  const problems = new Problems();
  const warnings: string[] = [];
  let preset: PresetName | undefined;
  if (input.preset !== undefined) {
    if (typeof input.preset === 'string' && input.preset in PRESETS) preset = input.preset as PresetName;
    else problems.add('/preset', `unknown preset; one of ${Object.keys(PRESETS).join(', ')}`);
  }
  const raw = input as unknown as Record<string, unknown>;
  let retention = lengthOf(problems, '', 'retention', raw);
  const archiveAfter = lengthOf(problems, '', 'archive_after', raw);
  const given = { retention: input.retention_days !== undefined || input.retention_period !== undefined };
  if (preset) {
    const p = PRESETS[preset];
    if (!given.retention) retention ??= p.retention;
    if (retention && given.retention && shorterAt(retention, p.retention, now)) {
      warnings.push(`retention ${formatPeriod(retention)} is shorter than ${p.label} asks (${formatPeriod(p.retention)})`);
    }
    if (p.online && archiveAfter && shorterAt(archiveAfter, p.online, now)) {
      warnings.push(`archive_after ${formatPeriod(archiveAfter)} keeps less online than ${p.label} asks (${formatPeriod(p.online)})`);
    }
  }
  if (!retention && !problems.details.some((d) => d.field?.startsWith('/retention'))) {
    problems.add('/retention_days', 'is required (or retention_period, or a preset)');
  }
  checkOrder(problems, '', { retention, archiveAfter }, now);
  for (const [field, value] of [
    ['compress_archives', input.compress_archives],
    ['encryption_required', input.encryption_required],
  ] as const) {
    if (value !== undefined && typeof value !== 'boolean') problems.add(`/${field}`, 'must be true or false');
  }
  const categories: Record<string, RetentionRule> = {};
  const seen = new Set<string>();
  if (input.categories !== undefined) {
    if (input.categories === null || typeof input.categories !== 'object' || Array.isArray(input.categories)) {
      problems.add(
        '/categories',
        'must be an object of category: { retention_days | retention_period, archive_after_days | archive_after_period }',
      );
    } else {
      for (const [name, o] of Object.entries(input.categories)) {
        const prefix = `/categories/${name}`;
        if (!CATEGORY.test(name)) {
          problems.add(prefix, 'is not a category name (lower case, digits, underscore)');
          continue;
        }
        const problem = notACategory(name);
        if (problem && !stored) {
          problems.add(prefix, problem);
          continue;
        }
        const category = canonicalCategory(name);
        if (seen.has(category)) {
          problems.add(prefix, `names ${category} a second time (an alias of it is given too)`);
          continue;
        }
        seen.add(category);
        if (o === null || typeof o !== 'object' || Array.isArray(o)) {
          problems.add(prefix, 'must be an object');
          continue;
        }
        const known = ['retention_days', 'retention_period', 'archive_after_days', 'archive_after_period'];
        for (const k of Object.keys(o)) if (!known.includes(k)) problems.add(`${prefix}/${k}`, 'is not a known field');
        const r = lengthOf(problems, prefix, 'retention', o as Record<string, unknown>) ?? retention;
        const own = lengthOf(problems, prefix, 'archive_after', o as Record<string, unknown>);
        // An inherited archive_after longer than the category's own retention means "deleted, never archived".
        const a = own ?? (archiveAfter && r && !shorterAt(r, archiveAfter, now) ? archiveAfter : undefined);
        checkOrder(problems, prefix, { retention: r, archiveAfter: a }, now);
        if (r) categories[category] = { retention: r, ...(a ? { archiveAfter: a } : {}) };
        if (preset && r && shorterAt(r, PRESETS[preset].retention, now)) {
          warnings.push(`${category}: retention ${formatPeriod(r)} is shorter than ${PRESETS[preset].label} asks`);
        }
      }
    }
  }
  if (problems.details.length > 0 || !retention) {
    throw new ValidationError(
      `invalid retention policy: ${problems.details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
      problems.details,
    );
  }
  return {
    policy: {
      retention,
      ...(archiveAfter ? { archiveAfter } : {}),
      compress: input.compress_archives ?? true,
      encryptionRequired: input.encryption_required ?? false,
      ...(preset ? { preset } : {}),
      categories,
    },
    warnings,
  };
}

/** The rule that governs one category. */
export function ruleFor(policy: RetentionPolicy, category: string): RetentionRule {
  return policy.categories[category] ?? policy;
}

/** The policy as the API shows it (and as stored). */
export function policyToJson(policy: RetentionPolicy): Record<string, unknown> {
  const rule = (r: RetentionRule) => ({
    retention_period: formatPeriod(r.retention),
    ...(r.retention.years === 0 && r.retention.months === 0 ? { retention_days: r.retention.days } : {}),
    archive_after_period: r.archiveAfter ? formatPeriod(r.archiveAfter) : null,
    ...(r.archiveAfter && r.archiveAfter.years === 0 && r.archiveAfter.months === 0 ? { archive_after_days: r.archiveAfter.days } : {}),
  });
  return {
    ...rule(policy),
    compress_archives: policy.compress,
    encryption_required: policy.encryptionRequired,
    preset: policy.preset ?? null,
    categories: Object.fromEntries(Object.entries(policy.categories).map(([c, r]) => [c, rule(r)])),
  };
}

/** The stored form back into a policy (the stored form was validated when written). */
export function policyFromJson(json: Record<string, unknown>, now: Date): RetentionPolicy {
  const categories = (json.categories ?? {}) as Record<string, Record<string, unknown>>;
  const strip = (r: Record<string, unknown>): CategoryOverrideInput => ({
    retention_period: r.retention_period as string,
    ...(r.archive_after_period ? { archive_after_period: r.archive_after_period as string } : {}),
  });
  return validatePolicy(
    {
      ...strip(json),
      compress_archives: json.compress_archives as boolean,
      encryption_required: json.encryption_required as boolean,
      ...(json.preset ? { preset: json.preset as string } : {}),
      categories: Object.fromEntries(Object.entries(categories).map(([c, r]) => [c, strip(r)])),
    },
    now,
    true,
  ).policy;
}
