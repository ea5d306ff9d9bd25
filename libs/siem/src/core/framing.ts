/** How messages are delimited on a stream (RFC 6587 §3.4): octet counting (the default), or a trailing LF. */
export const FRAMINGS = ['octet-counting', 'lf'] as const;
export type Framing = (typeof FRAMINGS)[number];

const LINE_BREAK = /[\r\n]/;

/**
 * RFC 5425 §4.3 / RFC 6587 §3.4.1: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN the octet count of SYSLOG-MSG alone (not of
 * the digits nor of the space), in UTF-8 bytes.
 */
export function frameOctetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/** RFC 6587 §3.4.2 non-transparent framing with LF; the renderers never put a line break inside a message. */
export function frameLf(message: string): Buffer {
  if (LINE_BREAK.test(message)) throw new Error('a message with a line break cannot be LF-framed');
  return Buffer.from(`${message}\n`, 'utf8');
}

export function frame(message: string, framing: Framing): Buffer {
  return framing === 'lf' ? frameLf(message) : frameOctetCounted(message);
}

/**
 * The frames of `messages` one after the other, as one buffer: the bytes of `frame` for each, built as one
 * string and encoded once (a Buffer per message and a concat cost more than rendering the JSON itself).
 */
export function frameAll(messages: string[], framing: Framing): Buffer {
  if (framing === 'lf') {
    for (const m of messages) if (LINE_BREAK.test(m)) throw new Error('a message with a line break cannot be LF-framed');
    return Buffer.from(messages.length === 0 ? '' : `${messages.join('\n')}\n`, 'utf8');
  }
  let text = '';
  for (const m of messages) text += `${Buffer.byteLength(m, 'utf8')} ${m}`;
  return Buffer.from(text, 'utf8');
}

/**
 * RFC 5426: one message per datagram, no framing. A message longer than `maxBytes` is truncated (§3.2 allows a
 * receiver to do the same) at a UTF-8 character boundary, and a trailing odd backslash is dropped so a CEF or SD
 * escape is never left half-written. 2048 octets is what RFC 5426 says a sender SHOULD be able to send on IPv4;
 * larger messages belong on TCP or TLS.
 */
export function datagram(message: string, maxBytes: number): { bytes: Buffer; truncated: boolean } {
  const full = Buffer.from(message, 'utf8');
  if (full.length <= maxBytes) return { bytes: full, truncated: false };
  let end = maxBytes;
  // Back off over UTF-8 continuation bytes (10xxxxxx) so the cut lands on the start of a character.
  while (end > 0 && (full[end] & 0xc0) === 0x80) end--;
  let cut = full.subarray(0, end);
  let backslashes = 0;
  for (let i = cut.length - 1; i >= 0 && cut[i] === 0x5c; i--) backslashes++;
  if (backslashes % 2 === 1) cut = cut.subarray(0, cut.length - 1);
  return { bytes: Buffer.from(cut), truncated: true };
}
