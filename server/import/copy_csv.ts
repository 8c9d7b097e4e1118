// A streaming RFC 4180 reader for the import engine (cells separated by commas, or by the
// separator given or detected: delimiter.ts), written for speed: csv-parse looks at
// every character through its many options (about 2.5 MB/s on a loaded machine, the whole
// cost of an import); this one looks for the next quote with indexOf and slices cells out
// of the chunk. What it reads, as csv-parse did with the options imports used: a UTF-8 byte
// order mark is skipped; records end in \n or \r\n; a cell in quotes may hold commas, line
// breaks and "" (a quote); empty lines are no records; the line a record starts on is
// counted as an editor counts lines. A quote inside a bare cell spoils that record only
// (reported, the next line is read); a quote closed and followed by something other than a
// comma or a line end, one never closed, or a record longer than the limit, ends the file.

/** Longest record read (one line of the file, quoted line breaks included). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * The most bytes read into records at once. A stream's chunk can be far larger (an upload
 * read while the import waited for PostgreSQL came in chunks of a megabyte and more), and
 * all the records of a chunk are alive until the last is written: at 1 MB they outlived
 * V8's young generation, and copying them out of it took about 40% of the import's time.
 */
export const FEED_BYTES = 64 * 1024;

/** A chunk as views of at most FEED_BYTES (no copy), to feed one after the other. */
export function* feedPieces(chunk: Buffer): Generator<Buffer> {
  if (chunk.length <= FEED_BYTES) {
    yield chunk;
    return;
  }
  for (let at = 0; at < chunk.length; at += FEED_BYTES) yield chunk.subarray(at, at + FEED_BYTES);
}

export interface CsvRecord {
  cells: string[];
  line: number;
  /** set when the record could not be read (its cells are what was read) */
  error?: string;
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

import { badByteAt, CUT_CHARACTER_REASON, notUtf8Reason, unfinishedTail } from './utf8.js';
import { SNIFF_CHARS, SNIFF_LINES, sniffDelimiter, type Delimiter, type DelimiterChoice } from './delimiter.js';

const QUOTE = 34;
const LF = 10;
const CR = 13;

const enum State {
  FieldStart,
  Bare,
  Quoted,
  QuoteSeen,
  CrAfterQuote,
}

export class CsvReader {
  // fatal: a byte sequence that is not UTF-8 is refused (naming its line), never read as
  // U+FFFD: a value is stored exactly or refused. ignoreBOM: the BOM is dropped below.
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private line = 1;
  private recLine = 1;
  private cells: string[] = [];
  private field = '';
  private state = State.FieldStart;
  private quotedAny = false;
  private started = false;
  private bad: string | null = null;
  private quoteLine = 1;
  /** the chunk before (a bad character may have begun in it) */
  private prev: Buffer = Buffer.alloc(0);
  /** the separator (`auto`: null until the first lines are in, then detected) */
  private sep: Delimiter | null;
  private sepCode: number;
  /** text held back until the separator is known */
  private held = '';

  constructor(
    private readonly maxRecord: number,
    delimiter: DelimiterChoice = ',',
  ) {
    this.sep = delimiter === 'auto' ? null : delimiter;
    this.sepCode = (this.sep ?? ',').charCodeAt(0);
  }

  /** The separator read by (detected, with `auto`, once the first lines are in). */
  get delimiter(): Delimiter {
    return this.sep ?? ',';
  }

  /** With `auto`: holds text back until SNIFF_LINES lines (or SNIFF_CHARS) are in, then detects; the text to scan. */
  private detect(text: string, ended: boolean): string | null {
    if (this.sep !== null) return text;
    this.held += text;
    let lines = 0;
    for (let at = this.held.indexOf('\n'); at >= 0 && lines < SNIFF_LINES + 1; at = this.held.indexOf('\n', at + 1)) lines++;
    if (!ended && lines <= SNIFF_LINES && this.held.length < SNIFF_CHARS) return null;
    this.sep = sniffDelimiter(this.held, ended);
    this.sepCode = this.sep.charCodeAt(0);
    const all = this.held;
    this.held = '';
    return all;
  }

  /** The records completed by this chunk. */
  feed(chunk: Buffer): CsvRecord[] {
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch {
      throw this.notUtf8(chunk);
    }
    this.prev = chunk;
    if (!this.started && text.length) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const ready = this.detect(text, false);
    return ready === null ? [] : this.scan(ready);
  }

  /** The last record (a file need not end with a line break); throws when a quote is left open. */
  end(): CsvRecord[] {
    let rest: string;
    try {
      rest = this.decoder.decode();
    } catch {
      throw new CsvSyntaxError(this.line, CUT_CHARACTER_REASON);
    }
    const out = this.scan(this.detect(rest, true)!);
    if (this.state === State.Quoted) throw new CsvSyntaxError(this.quoteLine, `a quote opened on line ${this.quoteLine} is never closed`);
    if (this.state === State.CrAfterQuote) this.state = State.QuoteSeen;
    if (this.cells.length || this.field.length || this.quotedAny || this.state === State.QuoteSeen) this.endRecord(out);
    return out;
  }

  /** The refusal of a chunk that is not UTF-8, naming the line of its first bad byte. */
  private notUtf8(chunk: Buffer): CsvSyntaxError {
    const bad = badByteAt(unfinishedTail(this.prev), chunk, this.line);
    return new CsvSyntaxError(bad.line, notUtf8Reason(bad.byte));
  }

  private endRecord(out: CsvRecord[]): void {
    let last = this.field;
    if (this.state === State.Bare && last.charCodeAt(last.length - 1) === CR) last = last.slice(0, -1);
    this.cells.push(last);
    const empty = this.cells.length === 1 && this.cells[0] === '' && !this.quotedAny;
    if (!empty) out.push(this.bad ? { cells: this.cells, line: this.recLine, error: this.bad } : { cells: this.cells, line: this.recLine });
    this.cells = [];
    this.field = '';
    this.state = State.FieldStart;
    this.quotedAny = false;
    this.bad = null;
  }

  private scan(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    const n = text.length;
    let i = 0;
    // The next quote at or after i (n when none): a whole line before it holds no quoted
    // cell, and is split by the native String#split (most lines of most files).
    let nextQuote = -1;
    while (i < n) {
      if (this.state === State.FieldStart && this.cells.length === 0 && this.field.length === 0 && !this.quotedAny && this.bad === null) {
        if (nextQuote < i) {
          nextQuote = text.indexOf('"', i);
          if (nextQuote < 0) nextQuote = n;
        }
        const nl = text.indexOf('\n', i);
        if (nl >= 0 && nl < nextQuote) {
          let end = nl;
          if (end > i && text.charCodeAt(end - 1) === CR) end--;
          // an empty line (or a lone \r) is no record, as in the state machine below
          if (end > i) out.push({ cells: text.slice(i, end).split(this.sep!), line: this.line });
          i = nl + 1;
          this.line++;
          this.recLine = this.line;
          continue;
        }
      }
      switch (this.state) {
        case State.FieldStart: {
          if (text.charCodeAt(i) === QUOTE) {
            this.state = State.Quoted;
            this.quotedAny = true;
            this.quoteLine = this.line;
            i++;
          } else this.state = State.Bare;
          break;
        }
        case State.Bare: {
          const from = i;
          let c = 0;
          const sep = this.sepCode;
          while (i < n) {
            c = text.charCodeAt(i);
            if (c === sep || c === LF || c === QUOTE) break;
            i++;
          }
          this.field += text.slice(from, i);
          if (i >= n) break;
          if (c === QUOTE) {
            this.bad ??= 'a quote inside a cell that does not start with one (put the whole cell in quotes, and double the quotes in it)';
            this.field += '"';
            i++;
          } else if (c === this.sepCode) {
            this.cells.push(this.field);
            this.field = '';
            this.state = State.FieldStart;
            i++;
          } else {
            this.endRecord(out);
            i++;
            this.line++;
            this.recLine = this.line;
          }
          break;
        }
        case State.Quoted: {
          const q = text.indexOf('"', i);
          const to = q < 0 ? n : q;
          for (let nl = text.indexOf('\n', i); nl >= 0 && nl < to; nl = text.indexOf('\n', nl + 1)) this.line++;
          this.field += text.slice(i, to);
          if (q < 0) {
            i = n;
          } else {
            this.state = State.QuoteSeen;
            i = q + 1;
          }
          break;
        }
        case State.QuoteSeen: {
          const c = text.charCodeAt(i);
          if (c === QUOTE) {
            this.field += '"';
            this.state = State.Quoted;
            i++;
          } else if (c === this.sepCode) {
            this.cells.push(this.field);
            this.field = '';
            this.state = State.FieldStart;
            i++;
          } else if (c === LF) {
            this.endRecord(out);
            i++;
            this.line++;
            this.recLine = this.line;
          } else if (c === CR) {
            this.state = State.CrAfterQuote;
            i++;
          } else {
            throw new CsvSyntaxError(this.line, `a quoted cell must end at its closing quote (found "${text[i]}" after it; double a quote inside a cell)`);
          }
          break;
        }
        case State.CrAfterQuote: {
          if (text.charCodeAt(i) !== LF) throw new CsvSyntaxError(this.line, 'a carriage return after a quoted cell must be followed by a line feed');
          this.endRecord(out);
          i++;
          this.line++;
          this.recLine = this.line;
          break;
        }
      }
    }
    // the record under way, once per chunk: a record never ends, memory does
    let pending = this.field.length;
    for (const c of this.cells) pending += c.length;
    if (pending > this.maxRecord) throw new CsvSyntaxError(this.recLine, `the record is longer than ${Math.round(this.maxRecord / 1024 / 1024)} MB`);
    return out;
  }
}
