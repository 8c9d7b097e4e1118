// A new table's fields from a file's sample: names (infer_names.ts), types (infer.ts), and
// the overrides a caller sends (types[<column>]=<type>, options[<column>]={...}).
import type { Queryable } from '../db/pool.js';
import { AppError, badRequest } from '../errors.js';
import { fieldType, parseOptions } from '../fields/registry.js';
import { choicesFor, ColumnSample, fitOf, inferColumn, IMPORT_TYPES, isImportType, type ImportType } from './infer.js';
import { namesFor } from './infer_names.js';
import type { SourceRecord } from './records.js';

/** Records read to infer types: enough to see the values, little enough to answer at once. */
export const SAMPLE_ROWS = 10_000;

export interface InferredField {
  /** the header cell as in the file */
  header: string;
  name: string;
  column: string;
  type: ImportType;
  options: Record<string, unknown>;
  /** the type inference chose (type differs when overridden) */
  inferred: ImportType;
  confidence: number;
  examples: string[];
  /** values of the sample that would not fit `type` */
  misfits: number;
  note?: string;
  /** each type the column could get, with its options and its misfits (the preview's picker) */
  choices: Array<{ type: ImportType; options: Record<string, unknown>; misfits: number }>;
}

export interface Overrides {
  types?: Record<string, unknown>;
  options?: Record<string, unknown>;
}

/** Overrides are keyed by column name or by header cell. */
function overrideFor(map: Record<string, unknown> | undefined, column: string, header: string): unknown {
  if (!map || typeof map !== 'object') return undefined;
  if (Object.hasOwn(map, column)) return map[column];
  if (Object.hasOwn(map, header)) return map[header];
  return undefined;
}

export function samplesOf(header: string[], rows: SourceRecord[]): ColumnSample[] {
  const samples = header.map(() => new ColumnSample());
  for (const { cells } of rows) for (let i = 0; i < samples.length; i++) samples[i]!.add(cells[i]);
  return samples;
}

export async function inferFields(db: Queryable, header: string[], rows: SourceRecord[], over: Overrides = {}): Promise<InferredField[]> {
  const names = await namesFor(db, header);
  const samples = samplesOf(header, rows);
  const known = new Set(names.flatMap((n) => [n.column, n.header]));
  for (const map of [over.types, over.options]) {
    for (const key of Object.keys(map ?? {})) {
      if (!known.has(key)) throw badRequest(`"${key.slice(0, 60)}" is no column of the file (use a column name the dry run answers, or the header)`, `types.${key}`);
    }
  }
  return names.map((n, i) => {
    const s = samples[i]!;
    const guess = inferColumn(s);
    let type: ImportType = guess.type;
    let options = guess.options;
    let misfits = guess.misfits;
    const t = overrideFor(over.types, n.column, n.header);
    if (t !== undefined && t !== '') {
      if (!isImportType(t)) {
        fieldType(String(t), `types.${n.column}`); // a 400 naming the types there are
        throw badRequest(`a new table's column can be ${IMPORT_TYPES.join(', ')}; add a ${String(t)} field after the import`, `types.${n.column}`);
      }
      type = t;
      const fit = fitOf(s, t);
      options = fit.options;
      misfits = fit.misfits;
    }
    let o = overrideFor(over.options, n.column, n.header);
    if (typeof o === 'string' && o !== '') {
      try {
        o = JSON.parse(o);
      } catch {
        throw badRequest('options must be a JSON object', `options.${n.column}`);
      }
    }
    if (o !== undefined && o !== '') {
      try {
        options = parseOptions(fieldType(type), o);
      } catch (err) {
        if (err instanceof AppError) throw new AppError(err.status, err.code, err.message, `options.${n.column}`, err.details);
        throw err;
      }
      const def = fieldType(type);
      misfits = 0;
      for (const [v, c] of s.counts) {
        try {
          def.parse(v, options);
        } catch {
          misfits += c;
        }
      }
    }
    return {
      header: n.header,
      name: n.name,
      column: n.column,
      type,
      options,
      inferred: guess.type,
      confidence: type === guess.type ? guess.confidence : 1,
      examples: s.examples(),
      misfits,
      ...(guess.note && type === guess.type ? { note: guess.note } : {}),
      choices: choicesFor(s),
    };
  });
}

/** The field bodies of POST /tables for these fields. */
export const fieldSpecsOf = (fields: InferredField[]) => fields.map((f) => ({ name: f.name, column: f.column, type: f.type, options: f.options }));
