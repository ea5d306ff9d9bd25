import { defineConfigSection, env } from '@app/common';

/** The completeness tracker's settings (parsed where it runs: the all-in-one and the integrity service). */
export const COMPLETENESS_CONFIG = defineConfigSection({
  name: 'completeness',
  variables: ['AUDIT_SOURCE_SILENCE_FACTOR', 'AUDIT_SOURCE_SILENCE_MIN_SECONDS', 'AUDIT_SOURCE_SILENCE_CHECK_SECONDS'],
  parse: (e) => ({
    /** A source is silent after this many of its usual intervals without an event. */
    silenceFactor: env.int(e, 'AUDIT_SOURCE_SILENCE_FACTOR', 10, 2, 1000),
    /** ... and never sooner than this: a source that sends every second is not silent after ten. */
    silenceMinimumMs: env.int(e, 'AUDIT_SOURCE_SILENCE_MIN_SECONDS', 300, 10, 7 * 86_400) * 1000,
    /** How often the silence check runs. */
    checkIntervalMs: env.int(e, 'AUDIT_SOURCE_SILENCE_CHECK_SECONDS', 60, 1, 3600) * 1000,
  }),
});

export type CompletenessSettings = ReturnType<typeof COMPLETENESS_CONFIG.parse>;
