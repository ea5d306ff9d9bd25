import { AuditEvent, AuditEventInput, normalizeEvent } from '@app/contracts';

/** A valid event as it sits on the log, for the renderers' specs. */
export function sampleEvent(input: Partial<AuditEventInput> = {}): AuditEvent {
  const r = normalizeEvent(
    {
      id: '0192f4a8-7c1e-7000-8000-000000000001',
      event_type: 'device_registered',
      timestamp: '2025-09-01T15:30:45.123Z',
      ...input,
    },
    { tenantId: 'acme', receivedAtMicros: 1_756_740_645_200_000, trustTenantField: false },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.event;
}
