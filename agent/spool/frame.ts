/**
 * Record framing of spool files: `[u32 length][u32 crc32(payload)][payload]`, big-endian.
 * A reader can tell a torn tail (the file ends inside a record) from corruption (a record whose
 * checksum does not match, with more data after it), and can find the next intact record again.
 */
import { crc32 } from 'node:zlib';

/** Bytes of a frame header. */
export const FRAME_HEADER_BYTES = 8;
/** Largest payload a frame may carry; anything larger in a header is corruption. */
export const MAX_FRAME_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Frames one payload. */
export function encodeFrame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** One intact record found in a buffer. */
export interface Frame {
  /** Offset of the frame header in the buffer. */
  offset: number;
  /** Bytes of the whole frame, header included. */
  frameBytes: number;
  payload: Buffer;
}

/** What a scan of a whole file found. */
export interface ScanResult {
  frames: Frame[];
  /** End of the last intact frame before the first damage (the whole buffer when clean). */
  goodBytes: number;
  /**
   * `clean`: every byte belongs to an intact frame. `torn`: damage at the end only, no intact frame
   * after it (a write cut short). `corrupt`: damage with intact frames after it.
   */
  state: 'clean' | 'torn' | 'corrupt';
}

function frameAt(buf: Buffer, offset: number): Frame | undefined {
  if (offset + FRAME_HEADER_BYTES > buf.length) return undefined;
  const len = buf.readUInt32BE(offset);
  if (len === 0 || len > MAX_FRAME_PAYLOAD_BYTES || offset + FRAME_HEADER_BYTES + len > buf.length) return undefined;
  const payload = buf.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + len);
  if (crc32(payload) !== buf.readUInt32BE(offset + 4)) return undefined;
  return { offset, frameBytes: FRAME_HEADER_BYTES + len, payload };
}

/**
 * Reads every intact frame. After damage it searches byte by byte for the next frame whose
 * checksum matches, so records after a damaged one are kept (a false match needs a CRC32 collision
 * on a plausible length).
 */
export function scanFrames(buf: Buffer): ScanResult {
  const frames: Frame[] = [];
  let offset = 0;
  let goodBytes = -1;
  while (offset < buf.length) {
    const f = frameAt(buf, offset);
    if (f) {
      frames.push(f);
      offset += f.frameBytes;
      continue;
    }
    if (goodBytes < 0) goodBytes = offset;
    offset++;
  }
  if (goodBytes < 0) return { frames, goodBytes: buf.length, state: 'clean' };
  const damagedTailOnly = frames.every((f) => f.offset < goodBytes);
  return { frames, goodBytes, state: damagedTailOnly ? 'torn' : 'corrupt' };
}
