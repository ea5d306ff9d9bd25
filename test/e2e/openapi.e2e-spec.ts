import SwaggerParser from '@apidevtools/swagger-parser';
import { bootApp, http, TestApp } from './support/embedded-app';

/** The parameters the app accepts, as its own 400 for an unknown parameter lists them. */
async function acceptedParams(url: string): Promise<string[]> {
  const r = await http(url);
  expect(r.status).toBe(400);
  const detail = (r.body.error.details as Array<{ field: string; message: string }>).find((d) => d.field === 'no_such_param');
  const listed = /allowed: (.*)$/.exec(detail?.message ?? '');
  expect(listed).not.toBeNull();
  return listed![1].split(', ');
}

describe('the published OpenAPI document', () => {
  let app: TestApp;
  let doc: any; // eslint-disable-line @typescript-eslint/no-explicit-any

  beforeAll(async () => {
    app = await bootApp();
    const res = await http(`${app.url}/docs/openapi.json`);
    expect(res.status).toBe(200);
    doc = res.body;
  });

  afterAll(async () => {
    await app.close();
  });

  it('should be a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // validate() dereferences in place: give it a copy so the other tests see the document as served.
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeDefined();
  });

  it('should carry the event contract as the request body of POST /audit/events', () => {
    const input = doc.components.schemas.AuditEventInput;
    expect(input.required).toEqual(['event_type']);
    expect(input.properties.metadata.propertyNames.pattern).toBe('^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$');
  });

  it.each([
    ['/audit/events', '/audit/events?no_such_param=1'],
    ['/audit/events/stream', '/audit/events/stream?no_such_param=1'],
  ])('should document every query parameter that %s accepts', async (path, probe) => {
    const accepted = await acceptedParams(`${app.url}${probe}`);
    expect(accepted).toEqual(expect.arrayContaining(['category', 'since', 'q', 'metadata.<key>']));
    const parameters = doc.paths[path].get.parameters as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const documented = new Map(parameters.filter((p) => p.in === 'query').map((p) => [p.name as string, p]));
    for (const name of accepted) {
      if (name === 'metadata.<key>') {
        const metadata = documented.get('metadata');
        expect(metadata).toMatchObject({ style: 'form', explode: true, schema: { type: 'object' } });
        expect(new RegExp(metadata.schema.propertyNames.pattern).test('metadata.site_id')).toBe(true);
        expect(new RegExp(metadata.schema.propertyNames.pattern).test('site_id')).toBe(false);
      } else {
        expect({ name, documented: documented.has(name) }).toEqual({ name, documented: true });
        expect(documented.get(name).description).toEqual(expect.any(String));
      }
    }
  });

  it('should serve Swagger UI at /docs (its assets are why @fastify/static is a dependency)', async () => {
    const ui = await fetch(`${app.url}/docs/swagger-ui.css`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toContain('text/css');
  });
});
