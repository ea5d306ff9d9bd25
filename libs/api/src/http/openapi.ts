import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { auditEventJsonSchema, METADATA_KEY_PATTERN } from '@app/contracts';
import { EVENT_FILTER_PARAMS, EVENT_PAGE_PARAMS, MAX_METADATA_FILTERS, QueryParamDoc } from '@app/query';

/**
 * OpenAPI 3.1, not 3.0: the event body is the published AuditEvent JSON Schema (draft 2020-12, with `const`
 * and `propertyNames`), which 3.0's schema subset rejects, and 3.1's schema objects are that dialect, so the
 * contract is served as it is rather than converted into a second copy that could drift.
 */
export const OPENAPI_VERSION = '3.1.0';

type Parameter = Record<string, unknown> & { name: string; in: string };

function queryParams(table: Readonly<Record<string, QueryParamDoc>>): Parameter[] {
  return Object.entries(table).map(([name, doc]) => ({
    name,
    in: 'query',
    required: false,
    description: doc.description,
    schema: doc.schema,
  }));
}

/**
 * metadata.<key>=<value> filters: a form-style object exploded into one query parameter per property, the
 * OpenAPI way to say "parameters whose names follow a pattern".
 */
const METADATA_FILTER: Parameter = {
  name: 'metadata',
  in: 'query',
  required: false,
  style: 'form',
  explode: true,
  description: `Metadata filters as metadata.<key>=<value> (exact match; a key repeated matches any of its values; at most ${MAX_METADATA_FILTERS}). site_id, device_id and user_id read their own columns.`,
  schema: {
    type: 'object',
    propertyNames: { pattern: `^metadata\\.${METADATA_KEY_PATTERN.replace(/^\^/, '')}` },
    additionalProperties: { type: 'string', maxLength: 1024 },
  },
};

/** Puts `extra` into an operation's parameters, replacing any Nest derived from decorators under the same name. */
function setParams(doc: OpenAPIObject, path: string, extra: Parameter[]): void {
  const op = doc.paths[path]?.get;
  if (!op) throw new Error(`OpenAPI: no GET ${path} to document`);
  const names = new Set(extra.map((p) => `${p.in}:${p.name}`));
  const kept = (op.parameters ?? []).filter((p) => !('name' in p) || !names.has(`${p.in}:${p.name}`));
  op.parameters = [...kept, ...(extra as never[])];
}

/** The API's OpenAPI document: what Nest derives from the controllers, plus the event contract and the query filters. */
export function buildOpenApiDocument(app: INestApplication, title: string): OpenAPIObject {
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setOpenAPIVersion(OPENAPI_VERSION)
      .setTitle(title)
      .setDescription('HOMEPOT Audit: audit logging and compliance. Errors are { "error": { "code", "message", "details" } }.')
      .setVersion('1.0')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
      .build(),
  );
  // $id would make the schema a resource of its own, and relative references inside it would resolve against it.
  const { $schema: _s, $id: _i, ...schema } = auditEventJsonSchema as Record<string, unknown>;
  doc.components = { ...doc.components, schemas: { ...(doc.components?.schemas ?? {}), AuditEventInput: schema as never } };
  const filters = [...queryParams(EVENT_FILTER_PARAMS), METADATA_FILTER];
  setParams(doc, '/audit/events', [...filters, ...queryParams(EVENT_PAGE_PARAMS)]);
  setParams(doc, '/audit/events/stream', [
    ...filters,
    {
      name: 'last_event_id',
      in: 'query',
      required: false,
      description: 'Resume after this stream position, for clients that cannot send the Last-Event-ID header',
      schema: { type: 'string' },
    },
    {
      name: 'Last-Event-ID',
      in: 'header',
      required: false,
      description: 'Resume after this stream position (the id of the last event received)',
      schema: { type: 'string' },
    },
  ]);
  return doc;
}

/** Serves the document at /docs/openapi.json and Swagger UI at /docs (whose assets need @fastify/static). */
export function setupOpenApi(app: INestApplication, title: string): void {
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app, title), { jsonDocumentUrl: 'docs/openapi.json' });
}
