import { InvalidQueryError } from './errors';

/**
 * A position in the event log: for each partition, the offset of the next record to read (a string, since
 * Kafka offsets are 64-bit). It is the SSE id of the stream and crosses the RPC hop, so its grammar is
 * defined once, here, for the HTTP decoder and the RPC validator alike.
 */
export type StreamCursor = Record<number, string>;

/** Partitions are small whole numbers; offsets are signed 64-bit integers (-1: nothing read yet). */
const PARTITION = '\\d{1,5}';
const OFFSET = '-?\\d{1,19}';
/** More partitions than any topic of this service has; bounds the work one client header can ask for. */
export const MAX_CURSOR_PARTITIONS = 1000;

const PARTITION_RE = new RegExp(`^${PARTITION}$`);
const OFFSET_RE = new RegExp(`^${OFFSET}$`);
const CURSOR_RE = new RegExp(`^${PARTITION}:${OFFSET}(,${PARTITION}:${OFFSET}){0,${MAX_CURSOR_PARTITIONS - 1}}$`);

/** Whether `partition` and `offset` form one entry of a cursor. */
export function isCursorEntry(partition: string, offset: unknown): boolean {
  return PARTITION_RE.test(partition) && typeof offset === 'string' && OFFSET_RE.test(offset);
}

/** The text form, `partition:offset` pairs by partition: the SSE id. */
export function encodeCursor(cursor: StreamCursor): string {
  return Object.entries(cursor)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([p, o]) => `${p}:${o}`)
    .join(',');
}

export function decodeCursor(text: string): StreamCursor {
  if (!CURSOR_RE.test(text)) {
    throw new InvalidQueryError('Last-Event-ID is not a stream position from this service', [
      { field: 'Last-Event-ID', message: 'expected partition:offset pairs' },
    ]);
  }
  const out: StreamCursor = {};
  for (const pair of text.split(',')) {
    const [p, o] = pair.split(':');
    out[Number(p)] = o;
  }
  return out;
}
