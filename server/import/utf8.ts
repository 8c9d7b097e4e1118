// Bytes that must be UTF-8 text: a file is stored exactly or refused, naming the line of
// its first bad byte; nothing is ever read as U+FFFD (the replacement character).
import { Transform, type TransformCallback } from 'node:stream';

const LF = 10;

/** The offset of the first byte that cannot begin or continue a UTF-8 character here (a sequence cut by the chunk's end is not counted). */
export function firstBadUtf8(b: Buffer): number {
  const cont = (i: number, lo = 0x80, hi = 0xbf) => i >= b.length || (b[i]! >= lo && b[i]! <= hi);
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) i++;
    else if (c >= 0xc2 && c <= 0xdf) {
      if (!cont(i + 1)) return i;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (!cont(i + 1, c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf) || !cont(i + 2)) return i;
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (!cont(i + 1, c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf) || !cont(i + 2) || !cont(i + 3)) return i;
      i += 4;
    } else return i;
  }
  return 0; // the bad sequence began in an earlier chunk
}

/** The bytes at the end of `b` that begin a character it does not finish (0 to 3 of them). */
export function unfinishedTail(b: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, b.length); back++) {
    const c = b[b.length - back]!;
    if (c < 0x80) break; // ASCII: nothing unfinished
    if (c < 0xc0) continue; // a continuation byte: look further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    return need > back ? b.subarray(b.length - back) : b.subarray(b.length);
  }
  return b.subarray(b.length);
}

/**
 * The line of the first byte that is not UTF-8 in `chunk`, which starts on line `line`,
 * after `carry` (the unfinished character the chunk before ended with, see unfinishedTail).
 */
export function badByteAt(carry: Buffer, chunk: Buffer, line: number): { line: number; byte: number | undefined } {
  const both = carry.length ? Buffer.concat([carry, chunk]) : chunk;
  const at = firstBadUtf8(both);
  let n = line;
  for (let i = both.indexOf(LF); i >= 0 && i < at; i = both.indexOf(LF, i + 1)) n++;
  return { line: n, byte: both[at] };
}

/** Why bytes are refused, the same words from every reader. */
export function notUtf8Reason(byte: number | undefined): string {
  return `bytes that are not UTF-8 (byte 0x${byte?.toString(16).padStart(2, '0') ?? '??'}): save the file as UTF-8; nothing is read as a replacement character`;
}
export const CUT_CHARACTER_REASON = 'the file ends inside a UTF-8 character (the file is not UTF-8 text: save it as UTF-8)';

/** A refusal of bytes that are not UTF-8: the line (1-based) of the first bad byte, and why. */
export class NotUtf8Error extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/**
 * Bytes through unchanged, once checked to be UTF-8: the stream fails at the first byte
 * that is not, with a NotUtf8Error naming its line (lines counted by \n, as an editor
 * counts them). `refuse` turns the refusal into the caller's own error.
 */
export class Utf8Guard extends Transform {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** the line the next chunk starts on */
  private line = 1;
  /** the character the last chunk left unfinished */
  private carry = Buffer.alloc(0);

  constructor(private readonly refuse: (e: NotUtf8Error) => Error = (e) => e) {
    super();
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    try {
      this.decoder.decode(buf, { stream: true });
    } catch {
      const bad = badByteAt(this.carry, buf, this.line);
      done(this.refuse(new NotUtf8Error(bad.line, notUtf8Reason(bad.byte))));
      return;
    }
    for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) this.line++;
    this.carry = Buffer.from(unfinishedTail(buf));
    done(null, buf);
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.decode();
      done();
    } catch {
      done(this.refuse(new NotUtf8Error(this.line, CUT_CHARACTER_REASON)));
    }
  }
}

/** The line of the first byte of `bytes` that is not UTF-8 (a character cut at the end is not counted), or null. */
export function badUtf8Line(bytes: Buffer): NotUtf8Error | null {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return null;
  } catch {
    const bad = badByteAt(Buffer.alloc(0), bytes, 1);
    return new NotUtf8Error(bad.line, notUtf8Reason(bad.byte));
  }
}
