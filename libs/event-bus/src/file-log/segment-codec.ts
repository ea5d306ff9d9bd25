import { crc32 } from 'node:zlib';

/**
 * One record on disk: [u32 body length][u32 crc32 of body] then the body:
 * [f64 append time ms][u16 key length][key][u32 headers length][headers JSON][value].
 * The CRC lets recovery tell a torn tail (crash mid-write) from a valid record.
 */
export interface DecodedRecord {
  timestampMs: number;
  key: string | null;
  headers: Record<string, string>;
  value: Buffer;
  /** Bytes this record takes on disk, frame included. */
  size: number;
}

const FRAME = 8;

export function encodeRecord(timestampMs: number, key: string | null, headers: Record<string, string> | undefined, value: Buffer): Buffer {
  const keyBuf = key === null ? Buffer.alloc(0) : Buffer.from(key);
  const hdrBuf = headers && Object.keys(headers).length > 0 ? Buffer.from(JSON.stringify(headers)) : Buffer.alloc(0);
  const bodyLen = 8 + 2 + keyBuf.length + 4 + hdrBuf.length + value.length;
  const out = Buffer.allocUnsafe(FRAME + bodyLen);
  let p = FRAME;
  out.writeDoubleLE(timestampMs, p);
  p += 8;
  out.writeUInt16LE(key === null ? 0xffff : keyBuf.length, p);
  p += 2;
  keyBuf.copy(out, p);
  p += keyBuf.length;
  out.writeUInt32LE(hdrBuf.length, p);
  p += 4;
  hdrBuf.copy(out, p);
  p += hdrBuf.length;
  value.copy(out, p);
  out.writeUInt32LE(bodyLen, 0);
  out.writeUInt32LE(crc32(out.subarray(FRAME)), 4);
  return out;
}

/**
 * The headers of the record decoded last in a read, so a run of records with the same headers (every record
 * the gateway writes carries the same one or two) parses them once. Memoized headers are frozen: the records
 * of a read share the object.
 */
export interface HeaderMemo {
  bytes: Buffer | null;
  headers: Record<string, string>;
}

/** Decodes the record at `pos`, or returns null when the bytes there are incomplete or fail their checksum. */
export function decodeRecord(buf: Buffer, pos: number, memo?: HeaderMemo): DecodedRecord | null {
  if (pos + FRAME > buf.length) return null;
  const bodyLen = buf.readUInt32LE(pos);
  const end = pos + FRAME + bodyLen;
  if (bodyLen < 14 || end > buf.length) return null;
  const body = buf.subarray(pos + FRAME, end);
  if (crc32(body) !== buf.readUInt32LE(pos + 4)) return null;
  let p = 0;
  const timestampMs = body.readDoubleLE(p);
  p += 8;
  const keyLen = body.readUInt16LE(p);
  p += 2;
  let key: string | null = null;
  if (keyLen !== 0xffff) {
    key = body.toString('utf8', p, p + keyLen);
    p += keyLen;
  }
  const hdrLen = body.readUInt32LE(p);
  p += 4;
  let headers: Record<string, string> = {};
  if (hdrLen > 0) {
    const bytes = body.subarray(p, p + hdrLen);
    if (memo?.bytes?.equals(bytes)) {
      headers = memo.headers;
    } else {
      headers = JSON.parse(bytes.toString('utf8')) as Record<string, string>;
      if (memo) {
        memo.bytes = Buffer.from(bytes);
        memo.headers = Object.freeze(headers);
      }
    }
  }
  p += hdrLen;
  return { timestampMs, key, headers, value: Buffer.from(body.subarray(p)), size: FRAME + bodyLen };
}
