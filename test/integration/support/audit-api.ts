import { randomBytes } from 'node:crypto';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  ms: number;
}

/** A unique id for the events of one test, put in metadata.run_id: tests select only their own events by it. */
export function newRunId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export async function request<T = unknown>(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<ApiResponse<T>> {
  const started = Date.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 60_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (metrics, an HTML error page): keep the text.
  }
  return { status: res.status, headers: res.headers, body: body as T, ms: Date.now() - started };
}

export function postEvents<T = unknown>(gateway: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
  return request<T>(`${gateway}/audit/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export interface BatchResult {
  accepted: number;
  rejected: number;
  results: Array<{ index: number; status: string; id?: string }>;
}

export interface SearchPage {
  events: Array<{ id: string; metadata: Record<string, unknown> }>;
  total: number;
}

/** Events of a run the store currently returns, or undefined while the query path answers with an error. */
export async function storedTotal(gateway: string, runId: string): Promise<number | undefined> {
  try {
    const r = await request<SearchPage>(`${gateway}/audit/events?metadata.run_id=${encodeURIComponent(runId)}&limit=1`, {
      timeoutMs: 30_000,
    });
    return r.status === 200 ? r.body.total : undefined;
  } catch {
    return undefined;
  }
}

export async function waitForTotal(gateway: string, runId: string, expected: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  let total: number | undefined;
  while (Date.now() < deadline) {
    total = await storedTotal(gateway, runId);
    if (total !== undefined && total >= expected) return total;
    await new Promise((r) => setTimeout(r, 500));
  }
  return total;
}

/** Every id the search API returns for a run, page by page in a stable order (duplicates included). */
export async function storedIds(gateway: string, runId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await request<SearchPage>(
      `${gateway}/audit/events?metadata.run_id=${encodeURIComponent(runId)}&order=asc&limit=1000&offset=${offset}`,
      { timeoutMs: 60_000 },
    );
    if (r.status !== 200) throw new Error(`search failed: ${r.status} ${JSON.stringify(r.body)}`);
    ids.push(...r.body.events.map((e) => e.id));
    if (r.body.events.length < 1000) return ids;
  }
}

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** A Server-Sent Events client on fetch: yields complete messages as they arrive. */
export class SseClient {
  private readonly controller = new AbortController();
  private readonly queue: SseMessage[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  status = 0;

  private constructor() {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: client.controller.signal });
    client.status = res.status;
    if (!res.body) throw new Error('no body');
    void client.pump(res.body);
    return client;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const msg: SseMessage = { event: 'message', data: '' };
          let isComment = true;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            isComment = false;
            const i = line.indexOf(':');
            const field = i < 0 ? line : line.slice(0, i);
            const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (field === 'id') msg.id = value;
            else if (field === 'event') msg.event = value;
            else if (field === 'data') msg.data = msg.data ? `${msg.data}\n${value}` : value;
          }
          if (!isComment) this.queue.push(msg);
          this.waiter?.();
        }
      }
    } catch (e) {
      if (!this.controller.signal.aborted) this.failure = e as Error;
    }
    this.waiter?.();
  }

  /** The next message that is not a `retry`-only block, or an error after `timeoutMs`. */
  async next(timeoutMs: number): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SSE message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift() as SseMessage;
  }

  close(): void {
    this.controller.abort();
  }
}
