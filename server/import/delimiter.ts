// The separator between a CSV file's cells. Files from a spreadsheet in many European
// locales are separated by semicolons (the comma is their decimal mark), tab-separated
// files are common, pipes less so. An import reads `delimiter` (`,` `;` `tab` `|`), or
// detects it from the first lines (`auto`, the default): the separator every one of them
// has the same number of (outside quotes), at least one; the comma first whenever it
// qualifies; else the one of the others each line has most of; else the comma (and a file
// whose lines differ in width is refused as before, naming the line).
import { badRequest } from '../errors.js';

export const DELIMITERS = [',', ';', '\t', '|'] as const;
export type Delimiter = (typeof DELIMITERS)[number];
export type DelimiterChoice = Delimiter | 'auto';

/** Lines the detection reads (fewer when the file is shorter), and the most text it waits for. */
export const SNIFF_LINES = 20;
export const SNIFF_CHARS = 64 * 1024;

const NAMES: Record<Delimiter, string> = { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' };
export const delimiterName = (d: Delimiter): string => NAMES[d];

/** The `delimiter` parameter: `,` `;` `|` `tab` (or a tab itself), `auto` or nothing for auto; else 400. */
export function delimiterParam(raw: unknown): DelimiterChoice {
  if (raw === undefined || raw === null || raw === '' || raw === 'auto') return 'auto';
  if (raw === 'tab' || raw === '\\t') return '\t';
  if (typeof raw === 'string' && (DELIMITERS as readonly string[]).includes(raw)) return raw as Delimiter;
  throw badRequest('delimiter is one of , ; tab | or auto (detected from the first lines)', 'delimiter');
}

/**
 * The separator of a file from its first lines (`text`: its start; a last line without its
 * line break is left out unless it is all there is). Quoted cells are skipped, line breaks
 * in them included.
 */
export function sniffDelimiter(text: string, ended = false): Delimiter {
  const lines = countsPerLine(text, ended);
  if (lines.length === 0) return ',';
  const consistent = (i: number) => lines[0]![i]! > 0 && lines.every((l) => l[i] === lines[0]![i]);
  if (consistent(0)) return ',';
  let best: Delimiter = ',';
  let most = 0;
  for (let i = 1; i < DELIMITERS.length; i++) {
    if (consistent(i) && lines[0]![i]! > most) {
      best = DELIMITERS[i]!;
      most = lines[0]![i]!;
    }
  }
  return best;
}

/** For each complete record (at most SNIFF_LINES, empty ones skipped), how many of each separator it has outside quotes. */
function countsPerLine(text: string, ended: boolean): number[][] {
  const out: number[][] = [];
  let counts = [0, 0, 0, 0];
  let quoted = false;
  let empty = true;
  for (let i = 0; i < text.length && out.length < SNIFF_LINES; i++) {
    const c = text[i]!;
    if (c === '"') {
      quoted = !quoted; // "" inside quotes toggles twice
      empty = false;
    } else if (quoted) continue;
    else if (c === '\n') {
      if (!empty) out.push(counts);
      counts = [0, 0, 0, 0];
      empty = true;
    } else if (c !== '\r') {
      empty = false;
      const k = (DELIMITERS as readonly string[]).indexOf(c);
      if (k >= 0) counts[k]!++;
    }
  }
  // the last line counts when the text is the whole file, or when it is the only one
  if (!empty && !quoted && out.length < SNIFF_LINES && (ended || out.length === 0)) out.push(counts);
  return out;
}
