import { JsonLinesPage } from './store-ports';

const str = (column: string): string => `toJSONString(${column})`;
/** DateTime64(6, 'UTC') as the API writes it: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (clickHouseToIso). */
const iso = (column: string): string => `toJSONString(concat(replaceOne(toString(${column}), ' ', 'T'), 'Z'))`;

/**
 * One stored event as a JSON object rendered by the engine: the object `rowToEvent` builds, key for key and in
 * its order, so what is written from it reads back through the same path (JSON.parse) as what is written from
 * StoredAuditEvent objects. The engine escapes a few characters JSON.stringify leaves raw (U+2028, U+2029), so
 * the bytes may differ while the parsed events are equal (archive-stream.int-spec.ts). metadata_json is
 * already a JSON text (JSON.stringify of the event's metadata at ingest), so it is spliced in. `metadata: false`
 * leaves it out (an export without metadata); `position` adds the log position (an archive's line). Selected
 * with output_format_json_escape_forward_slashes = 0. One renderer for archives and exports.
 */
export function eventJsonSql(options: { metadata: boolean; position: boolean }): string {
  return `concat(
  '{"id":', ${str('toString(id)')},
  ',"event_type":', ${str('event_type')},
  ',"category":', ${str('category')},
  ',"description":', ${str('description')},${options.metadata ? `\n  ',"metadata":', if(metadata_json = '', '{}', metadata_json),` : ''}
  ',"timestamp":', ${iso('timestamp')},
  ',"received_at":', ${iso('received_at')},
  ',"ip_address":', ${str('ip_address')},
  ',"user_agent":', ${str('user_agent')},
  ',"session_id":', ${str('session_id')},
  ',"severity":', ${str('severity')},
  ',"source":', ${str('source')},
  if(isNull(sequence), '', concat(',"sequence":', toString(assumeNotNull(sequence)))),
  ',"tenant_id":', ${str('tenant_id')},
  ',"schema_version":1',
  ',"idempotency_key":', ${str('idempotency_key')},${options.position ? `\n  ',"position":{"partition":', toString(log_partition), ',"offset":', ${str('toString(log_offset)')}, '}',` : ''}
  '}')`;
}

/** An archive's line (FORMAT TabSeparatedRaw ends it): the event with its metadata and log position. */
export const EVENT_JSON_LINE = `${eventJsonSql({ metadata: true, position: true })} AS line`;

interface LineHead {
  id: string;
  timestamp: string;
}

/** A page of JSON Lines (each ending in a newline) with its row count and its first and last (timestamp, id). */
export function exportPageOf(lines: string): JsonLinesPage {
  if (lines === '') return { lines, count: 0, first: null, last: null };
  let count = 0;
  for (let i = lines.indexOf('\n'); i !== -1; i = lines.indexOf('\n', i + 1)) count++;
  const firstEnd = lines.indexOf('\n');
  const lastStart = lines.lastIndexOf('\n', lines.length - 2) + 1;
  const head = (l: string): LineHead => {
    const e = JSON.parse(l) as LineHead;
    return { id: e.id, timestamp: e.timestamp };
  };
  return { lines, count, first: head(lines.slice(0, firstEnd)), last: head(lines.slice(lastStart, lines.length - 1)) };
}
