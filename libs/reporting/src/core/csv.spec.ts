import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { StoredAuditEvent } from '@app/contracts';
import { CsvEventWriter, csvField, csvRecord } from './csv';

const event = (over: Partial<StoredAuditEvent> = {}): StoredAuditEvent => ({
  schema_version: 1,
  id: '0192f3a0-0000-7000-8000-000000000001',
  tenant_id: 'default',
  event_type: 'login_failed',
  category: 'security_events',
  severity: 'warning',
  description: 'Failed login',
  metadata: { user_id: 'u1' },
  timestamp: '2025-08-01T10:00:00.000000Z',
  received_at: '2025-08-01T10:00:00.000001Z',
  ip_address: '10.0.0.1',
  user_agent: 'curl/8',
  session_id: '',
  source: 'web',
  idempotency_key: '',
  ...over,
});

describe(csvField.name, () => {
  it.each([
    ['=1+2', `"'=1+2"`],
    ['+SUM(A1)', `"'+SUM(A1)"`],
    ['-2+3', `"'-2+3"`],
    ['@cmd', `"'@cmd"`],
    ['\tx', `"'\tx"`],
    ['\rx', `"'\rx"`],
    ['\nx', `"'\nx"`],
    ['＝1+2', `"'＝1+2"`],
    // OWASP's own example: separators and quotes cannot open a new cell.
    ['=1+2";=1+2', `"'=1+2"";=1+2"`],
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
  ])('given the formula-like %j, then it is prefixed with a quote and quoted', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it.each([
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\r\nbreak', '"line\r\nbreak"'],
    ['line\nbreak', '"line\nbreak"'],
  ])('given %j (RFC 4180 2.6/2.7), then it is quoted with inner quotes doubled', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it('given a plain value, a formula character later on, or an empty value, then it is written as is', () => {
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('a=b+c')).toBe('a=b+c');
    expect(csvField('')).toBe('');
  });

  it('given fields, then a record ends with CRLF', () => {
    expect(csvRecord(['a', 'b,c'])).toBe('a,"b,c"\r\n');
  });

  it("given the export's quoting, then every field is quoted, as the engine's CSV writer quotes a string", () => {
    expect(csvRecord(['a', '', 'say "hi"', '=1'], 'always')).toBe(`"a","","say ""hi""","'=1"\r\n`);
  });
});

describe(CsvEventWriter.name, () => {
  it('given hostile descriptions and metadata, then every cell is neutralised and metadata is one JSON column', async () => {
    const hostile = event({ description: '=cmd|"/C calc"!A0', metadata: { note: '@SUM(1)', nested: { a: '\n=1' } } });
    const out = await text(Readable.from([hostile]).pipe(new CsvEventWriter(true)));
    const [header, row, rest] = out.split('\r\n');
    expect(header.split(',').at(-1)).toBe('metadata');
    expect(row).toContain(`"'=cmd|""/C calc""!A0"`);
    // The JSON text starts with '{': no formula; its inner quotes are doubled.
    expect(row).toContain(`"{""note"":""@SUM(1)"",""nested"":{""a"":""\\n=1""}}"`);
    expect(rest).toBe('');
  });

  it('given no events, then the file is the header alone', async () => {
    const out = await text(Readable.from([]).pipe(new CsvEventWriter(false)));
    expect(out).toBe(
      'id,timestamp,received_at,event_type,category,severity,description,source,ip_address,user_agent,session_id,tenant_id,idempotency_key\r\n',
    );
  });
});
