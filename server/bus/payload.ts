// Parsing of notification payloads. A notification is text from another process (or a
// person with psql), so nothing here trusts its shape: a schema payload that cannot be
// read is reported as `undefined`, and the bus answers that with a flush (it knows some
// table changed, not which).

/** A committed schema change, as sent by the schema editor inside its transaction. */
export interface SchemaChange {
  tableId: number;
  /** the table's version after the change (tablewright.tables.version) */
  version: number;
  op: string;
  actor: string;
  /** the instance whose schema editor made the change, when it says so */
  instance?: string;
  /** tablewright.schema_state.version after the change: lets the poll tell heard from missed */
  globalVersion?: number;
}

/** Rows of a table written and committed (server/live/announce.ts sends these). */
export interface RowsChange {
  tableId: number;
  op: 'create' | 'update' | 'delete' | 'import';
  /** the rows concerned, when few; absent for big writes */
  rowIds?: number[];
  actor: string;
  instance?: string;
  /** the request that wrote them (its X-Request-Id): the page that sent it already shows the write */
  requestId?: string;
}

export function parseRowsChange(text: string): RowsChange | undefined {
  const p = parseJson(text);
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return undefined;
  const o = p as Record<string, unknown>;
  const tableId = integer(o.table_id);
  if (tableId === undefined || !['create', 'update', 'delete', 'import'].includes(o.op as string) || typeof o.actor !== 'string') return undefined;
  const change: RowsChange = { tableId, op: o.op as RowsChange['op'], actor: o.actor };
  if (Array.isArray(o.row_ids)) change.rowIds = o.row_ids.map(integer).filter((x): x is number => x !== undefined).slice(0, 100);
  if (typeof o.instance === 'string') change.instance = o.instance;
  if (typeof o.request_id === 'string' && o.request_id.length <= 100) change.requestId = o.request_id;
  return change;
}

/**
 * Something that changes what an API token stands for (server/auth/tokens.ts sends these
 * inside the statement that makes the change). Listeners drop their whole token cache on
 * any of them, readable or not: the fields are for the log.
 */
export interface AuthChange {
  op: string;
  tokenId?: number;
  /** set when the sender waits for every instance to confirm (Bus.confirmAuthChange) */
  nonce?: string;
}

/** An instance's answer to an auth change with a nonce: it has dropped its cached tokens. */
export interface AuthAck {
  instance: string;
  nonce: string;
}

export function parseAuthChange(text: string): AuthChange | undefined {
  const p = parseJson(text);
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return undefined;
  const o = p as Record<string, unknown>;
  if (typeof o.op !== 'string') return undefined;
  const change: AuthChange = { op: o.op.slice(0, 100) };
  const tokenId = integer(o.token_id);
  if (tokenId !== undefined) change.tokenId = tokenId;
  if (typeof o.nonce === 'string' && /^[0-9a-f]{1,64}$/.test(o.nonce)) change.nonce = o.nonce;
  return change;
}

export function parseAuthAck(text: string): AuthAck | undefined {
  const p = parseJson(text) as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null) return undefined;
  return typeof p.instance === 'string' && typeof p.nonce === 'string' ? { instance: p.instance, nonce: p.nonce } : undefined;
}

/** The ping each instance sends itself through the pool and expects back on its listener. */
export interface Ping {
  instance: string;
  seq: number;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// json_build_object() of a bigint column gives a JSON number, but a payload built as text
// in SQL may quote it; accept both, as long as it is a safe non-negative integer.
function integer(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function parseSchemaChange(text: string): SchemaChange | undefined {
  const p = parseJson(text);
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return undefined;
  const o = p as Record<string, unknown>;
  const tableId = integer(o.table_id);
  const version = integer(o.version);
  if (tableId === undefined || version === undefined) return undefined;
  if (typeof o.op !== 'string' || typeof o.actor !== 'string') return undefined;
  const change: SchemaChange = { tableId, version, op: o.op, actor: o.actor };
  if (typeof o.instance === 'string') change.instance = o.instance;
  const globalVersion = integer(o.global_version);
  if (globalVersion !== undefined) change.globalVersion = globalVersion;
  return change;
}

export function parsePing(text: string): Ping | undefined {
  const p = parseJson(text) as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null) return undefined;
  return typeof p.instance === 'string' && typeof p.seq === 'number' ? { instance: p.instance, seq: p.seq } : undefined;
}

/** DDL events are free-form: JSON when it parses, the raw text otherwise. */
export function parseDdl(text: string): unknown {
  const p = parseJson(text);
  return p === undefined ? text : p;
}
