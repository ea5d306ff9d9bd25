import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { StoredAuditEvent } from '@app/contracts';
import { JsonArrayEventWriter, NdjsonEventWriter } from './json';

const stored = (id: string): StoredAuditEvent => ({
  schema_version: 1,
  id,
  tenant_id: 'default',
  event_type: 'api_access',
  category: 'security_events',
  severity: 'info',
  description: '=not a formula here "quoted"',
  metadata: { big: 12345678901234567890, deep: { list: [1, 'two', null] } },
  timestamp: '2025-08-01T10:00:00.123456Z',
  received_at: '2025-08-01T10:00:00.123457Z',
  ip_address: '',
  user_agent: '',
  session_id: '',
  source: 'web',
  idempotency_key: '',
  position: { partition: 0, offset: '7' },
});

describe(NdjsonEventWriter.name, () => {
  it('given events, then each line is the event exactly as stored, without its log position', async () => {
    const out = await text(Readable.from([stored('a'), stored('b')]).pipe(new NdjsonEventWriter(true)));
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const { position, ...expected } = stored('a');
    expect(position).toBeDefined();
    expect(JSON.parse(lines[0])).toEqual(expected);
  });

  it('given include_metadata false, then metadata is left out', async () => {
    const out = await text(Readable.from([stored('a')]).pipe(new NdjsonEventWriter(false)));
    expect(JSON.parse(out)).not.toHaveProperty('metadata');
  });
});

describe(JsonArrayEventWriter.name, () => {
  it('given events, then the output is one JSON array of them', async () => {
    const out = await text(Readable.from([stored('a'), stored('b')]).pipe(new JsonArrayEventWriter(true)));
    const parsed = JSON.parse(out) as Array<{ id: string }>;
    expect(parsed.map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('given no events, then the output is an empty array', async () => {
    expect(JSON.parse(await text(Readable.from([]).pipe(new JsonArrayEventWriter(true))))).toEqual([]);
  });
});
