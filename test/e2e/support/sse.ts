import { connect, Socket } from 'node:net';

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
}

/** Splits SSE text into frames (comments dropped); the unfinished tail is returned as `rest`. */
export function parseFrames(text: string): { frames: SseFrame[]; rest: string } {
  const frames: SseFrame[] = [];
  let buf = text;
  let i;
  while ((i = buf.indexOf('\n\n')) >= 0) {
    const raw = buf.slice(0, i);
    buf = buf.slice(i + 2);
    const f: SseFrame = {};
    for (const line of raw.split('\n')) {
      const m = /^(id|event|data): ?(.*)$/.exec(line);
      if (m) f[m[1] as keyof SseFrame] = m[2];
    }
    if (f.id || f.data) frames.push(f);
  }
  return { frames, rest: buf };
}

/**
 * Reads SSE frames until `until` says so (or the time runs out). `onReady` is called on the stream's `ready`
 * frame, which the server writes once it has fixed where the stream starts: what is written after that is
 * sent, what was written before it may not be (a test writes its events after it, not after a sleep).
 */
export async function readFrames(
  url: string,
  headers: Record<string, string>,
  until: (frames: SseFrame[]) => boolean,
  timeoutMs = 10_000,
  onReady: () => void = () => undefined,
): Promise<SseFrame[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  const frames: SseFrame[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const parsed = parseFrames(buf + decoder.decode(chunk, { stream: true }));
      buf = parsed.rest;
      if (parsed.frames.some((f) => f.event === 'ready')) onReady();
      frames.push(...parsed.frames);
      if (until(frames)) {
        ac.abort();
        return frames;
      }
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
  return frames;
}

/** A raw HTTP/1.1 client on a socket, for clients that misbehave: never read, or send slowly. */
export function rawSocket(baseUrl: string): Promise<Socket> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

/** The body of a raw HTTP/1.1 response with chunked transfer encoding, as far as it arrived. */
export function chunkedBody(response: Buffer): string {
  let at = response.indexOf('\r\n\r\n') + 4;
  const parts: Buffer[] = [];
  for (;;) {
    const eol = response.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(response.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(response.subarray(eol + 2, Math.min(eol + 2 + size, response.length)));
    at = eol + 2 + size + 2;
    if (at > response.length) break;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** readFrames, with a promise that settles once the stream is ready (see readFrames). */
export function readFramesReady(
  url: string,
  headers: Record<string, string>,
  until: (frames: SseFrame[]) => boolean,
  timeoutMs = 10_000,
): { ready: Promise<void>; frames: Promise<SseFrame[]> } {
  let readyNow: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (readyNow = resolve));
  const frames = readFrames(url, headers, until, timeoutMs, readyNow);
  // A stream that ends (or fails) before its ready frame settles `ready` too, so a test never hangs on it.
  void frames.then(readyNow, readyNow);
  return { ready, frames };
}
