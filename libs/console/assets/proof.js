// RFC 6962 inclusion-proof check in the browser (WebCrypto SHA-256): leaf = H(0x00 || data), node = H(0x01 || l || r).
// The leaf data is libs/integrity's encoding: 0x01 || UTF-8(RFC 8785 JSON of the event's v1 leaf fields), or, for an
// event with a `sequence`, 0x02 || the same with `sequence` among the fields (v2).
const LEAF_FIELDS = ['schema_version', 'id', 'tenant_id', 'event_type', 'category', 'severity', 'description', 'metadata',
  'timestamp', 'received_at', 'ip_address', 'user_agent', 'session_id', 'source', 'idempotency_key'];
const LEAF_V2_FIELDS = [...LEAF_FIELDS, 'sequence'];

export function canonicalJson(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
}

// The leaf spells times with six fraction digits in UTC, as the log carries them.
export function canonicalTime(text) {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(text)) return text;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]00:?00)?$/.exec(text);
  return m ? `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}Z` : text;
}

export function leafBytes(event) {
  const v2 = event.sequence !== undefined;
  const picked = {};
  for (const f of v2 ? LEAF_V2_FIELDS : LEAF_FIELDS) {
    const v = event[f];
    if (v === undefined) continue;
    picked[f] = f === 'timestamp' || f === 'received_at' ? canonicalTime(v) : v;
  }
  const json = new TextEncoder().encode(canonicalJson(picked));
  const out = new Uint8Array(json.length + 1);
  out[0] = v2 ? 0x02 : 0x01;
  out.set(json, 1);
  return out;
}

const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function sha256(...parts) {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}

export async function rootFromProof(index, size, leafHash, proof) {
  if (index >= size) throw new Error('index beyond size');
  let fn = index, sn = size - 1, r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new Error('proof too long');
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('proof too short');
  return r;
}

/** { ok, leafMatches, rootMatches } for the event against its proof and the checkpoint's root. */
export async function checkInclusion(event, proof, checkpointRoot) {
  const leaf = await sha256(Uint8Array.of(0), leafBytes(event));
  const leafMatches = eq(leaf, b64(proof.leaf_hash));
  const root = await rootFromProof(proof.leaf_index, proof.tree_size, leaf, proof.proof.map(b64));
  const rootMatches = eq(root, b64(checkpointRoot));
  return { ok: leafMatches && rootMatches, leafMatches, rootMatches };
}
