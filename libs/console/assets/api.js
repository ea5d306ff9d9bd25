// Every call carries the key the user signed in with (kept in this tab's sessionStorage only).
const KEY = 'homepot-audit-key';
export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (k) => (k === null ? sessionStorage.removeItem(KEY) : sessionStorage.setItem(KEY, k));

export function headers(extra = {}) {
  const k = getKey();
  return { ...(k ? { 'X-API-Key': k } : {}), ...extra };
}

export async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: headers(init.body ? { 'Content-Type': 'application/json' } : {}) });
  const text = await res.text();
  let body = text;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const e = new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
    e.status = res.status;
    e.body = body;
    throw e;
  }
  return body;
}

/** Reads an SSE response with fetch (EventSource cannot send the key header); calls onEvent per data frame. */
export async function stream(path, onEvent, signal) {
  const res = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal });
  if (!res.ok) throw new Error(`stream: ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let type = 'message', data = '', id;
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
        else if (line.startsWith('id:')) id = line.slice(3).trim();
      }
      if (data) onEvent(type, JSON.parse(data), id);
    }
  }
}
