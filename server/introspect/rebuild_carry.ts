// Everything a table is besides its columns, constraints and indexes, carried over by a
// rebuild (rebuild.ts): its owner and grants (on the table, its columns and its identity
// sequence), storage parameters (fillfactor, autovacuum, TOAST), UNLOGGED, tablespace,
// column collations, storage, compression and statistics targets, row-level security and
// its policies, triggers (enabled or not), rules, extended statistics, replica identity,
// the clustering index and comments on constraints and indexes. What cannot be carried
// (views and functions that use the table, publications, inheritance, security labels,
// another access method) is named in a 409 before anything changes.
//
// Read from pg_catalog before the old table is dropped; applied to the new one with the
// DDL PostgreSQL deparses itself (pg_get_triggerdef, pg_get_ruledef, pg_get_expr...), as
// pg_dump does. The grants are compared afterwards: a difference refuses the rebuild.
import { identFromCatalog, literal, qualified, type Quoted } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { conflict } from '../errors.js';
import type { Change } from '../schema/change.js';

export interface Grant {
  grantor: string;
  grantee: string;
  privilege: string;
  grantable: boolean;
}

interface ColumnProps {
  name: string;
  /** the NOT NULL constraint's name (PostgreSQL 18 names them; none before) */
  notNullName: string | null;
  collation: string | null;
  storage: string | null;
  compression: string | null;
  stattarget: number | null;
  options: string[] | null;
  grants: Grant[];
}

export interface TableProps {
  owner: string;
  unlogged: boolean;
  tablespace: string | null;
  options: string[];
  toastOptions: string[];
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  replicaIdentity: string;
  replicaIndex: string | null;
  clusterIndex: string | null;
  grants: Grant[];
  columns: Map<string, ColumnProps>;
  policies: string[];
  triggers: Array<{ name: string; def: string; enabled: string }>;
  rules: string[];
  statistics: string[];
  comments: Array<{ kind: 'CONSTRAINT' | 'INDEX'; name: string; text: string }>;
  /** the identity (or serial) sequence of id: its options and grants */
  sequence: { grants: Grant[]; options: string } | null;
}

/** The sequence that fills the id column of table $1 (identity or serial); NULL when it has none (or no id). */
const ID_SEQUENCE = /* sql */ `SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attname = 'id' AND attnum > 0 AND NOT attisdropped)
  THEN pg_get_serial_sequence($1::regclass::text, 'id')::regclass END`;

/** Names from the catalog: identifiers as they are; the role 0 is PUBLIC. */
const GRANTS = /* sql */ `SELECT CASE WHEN a.grantor = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantor) END AS grantor,
                CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                a.privilege_type AS privilege, a.is_grantable AS grantable`;

/**
 * The grants on a table or sequence (its ACL; when it has none, the owner's defaults that
 * stand for it), or on one of its columns.
 */
export async function grantsOf(db: Queryable, oid: number, attnum: number | null = null): Promise<Grant[]> {
  const acl =
    attnum === null
      ? `(SELECT coalesce(relacl, acldefault((CASE relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", relowner)) FROM pg_class WHERE oid = $1)`
      : `(SELECT attacl FROM pg_attribute WHERE attrelid = $1 AND attnum = $2)`;
  const { rows } = await db.query<Grant>(`${GRANTS} FROM aclexplode(${acl}) a ORDER BY 1, 2, 3`, attnum === null ? [oid] : [oid, attnum]);
  return rows;
}

/** What a rebuild cannot carry over, as a person would name it; empty when it can go ahead. */
export async function rebuildBlockers(db: Queryable, oid: number): Promise<string[]> {
  const { rows } = await db.query<{ what: string }>(
    /* sql */ `SELECT DISTINCT CASE v.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || v.oid::regclass::text AS what
       FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
      WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1 AND v.oid <> $1
     UNION ALL
     SELECT DISTINCT 'function ' || d.objid::regprocedure::text FROM pg_depend d
      WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.deptype = 'n'
     UNION ALL
     SELECT 'publication ' || p.pubname FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE pr.prrelid = $1
     UNION ALL
     SELECT 'inheritance (' || CASE WHEN i.inhrelid = $1 THEN 'a child of ' || i.inhparent::regclass::text ELSE 'the parent of ' || i.inhrelid::regclass::text END || ')'
       FROM pg_inherits i WHERE i.inhrelid = $1 OR i.inhparent = $1
     UNION ALL
     SELECT 'a security label (' || provider || ')' FROM pg_seclabel WHERE objoid = $1 AND classoid = 'pg_class'::regclass
     UNION ALL
     SELECT 'the access method ' || am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.oid = $1 AND am.amname <> 'heap'
     UNION ALL
     SELECT 'a typed table (OF ' || c.reloftype::regtype::text || ')' FROM pg_class c WHERE c.oid = $1 AND c.reloftype <> 0
     UNION ALL
     SELECT 'partitions' FROM pg_class c WHERE c.oid = $1 AND c.relkind = 'p'
     UNION ALL
     -- a role this role cannot act as: the owner to give the new table to, a grantor to grant as
     SELECT DISTINCT 'the ' || who || ' ' || rolname || ' (the role Tablewright connects as cannot act as it)'
       FROM (SELECT 'owner' AS who, c.relowner AS role FROM pg_class c WHERE c.oid = $1
             UNION SELECT 'grantor', a.grantor FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = $1
             UNION SELECT 'grantor', a.grantor FROM pg_attribute t, aclexplode(t.attacl) a WHERE t.attrelid = $1 AND t.attnum > 0 AND NOT t.attisdropped) r
       JOIN pg_roles ON pg_roles.oid = r.role
      WHERE NOT pg_has_role(current_user, r.role, 'USAGE')
        AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     ORDER BY 1`,
    [oid],
  );
  return rows.map((r) => r.what);
}

const OPTION_RE = /^([a-z_][a-z0-9_]*)=(.*)$/s;

/** A reloptions array ({fillfactor=70}) as a WITH list: fillfactor = '70'. */
function withList(options: string[], prefix = ''): string[] {
  return options.map((o) => {
    const m = OPTION_RE.exec(o);
    if (!m) throw conflict('rebuild_blocked', `the storage parameter "${o.slice(0, 60)}" cannot be carried over`);
    return `${prefix}${m[1]} = ${literal(m[2]!)}`;
  });
}

export async function readTableProps(db: Queryable, oid: number): Promise<TableProps> {
  const { rows: t } = await db.query(
    /* sql */ `SELECT pg_get_userbyid(c.relowner) AS owner, c.relpersistence = 'u' AS unlogged, ts.spcname AS tablespace,
        coalesce(c.reloptions, '{}')::text[] AS options, coalesce(tc.reloptions, '{}')::text[] AS toast_options,
        c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls, c.relreplident AS replident,
        (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisreplident) AS replica_index,
        (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisclustered) AS cluster_index
       FROM pg_class c LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
      WHERE c.oid = $1`,
    [oid],
  );
  const { rows: cols } = await db.query(
    /* sql */ `SELECT a.attnum, a.attname AS name,
        CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
        CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
        nullif(a.attcompression::text, '') AS compression,
        CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::int END AS stattarget,
        a.attoptions::text[] AS options, a.attacl IS NOT NULL AS has_acl,
        (SELECT k.conname FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype = 'n' AND k.conkey = ARRAY[a.attnum]) AS not_null_name
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  const columns = new Map<string, ColumnProps>();
  for (const c of cols) {
    columns.set(c.name, { name: c.name, notNullName: c.not_null_name, collation: c.collation, storage: c.storage, compression: c.compression, stattarget: c.stattarget, options: c.options, grants: c.has_acl ? await grantsOf(db, oid, c.attnum) : [] });
  }
  const { rows: policies } = await db.query<{ def: string }>(
    /* sql */ `SELECT format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', p.polname, p.polrelid::regclass,
          CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
          CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
          (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, ', ') FROM unnest(p.polroles) r),
          CASE WHEN p.polqual IS NOT NULL THEN ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')' ELSE '' END,
          CASE WHEN p.polwithcheck IS NOT NULL THEN ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')' ELSE '' END) AS def
       FROM pg_policy p WHERE p.polrelid = $1 ORDER BY p.polname`,
    [oid],
  );
  const { rows: triggers } = await db.query<{ name: string; def: string; enabled: string }>(
    `SELECT tgname AS name, pg_get_triggerdef(oid) AS def, tgenabled::text AS enabled FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname`,
    [oid],
  );
  const { rows: rules } = await db.query<{ def: string }>(`SELECT pg_get_ruledef(oid) AS def FROM pg_rewrite WHERE ev_class = $1 AND rulename <> '_RETURN' ORDER BY rulename`, [oid]);
  const { rows: statistics } = await db.query<{ def: string }>(`SELECT pg_get_statisticsobjdef(oid) AS def FROM pg_statistic_ext WHERE stxrelid = $1 ORDER BY stxname`, [oid]);
  const { rows: comments } = await db.query<{ kind: 'CONSTRAINT' | 'INDEX'; name: string; text: string }>(
    /* sql */ `SELECT 'CONSTRAINT' AS kind, conname AS name, obj_description(oid, 'pg_constraint') AS text FROM pg_constraint
      WHERE conrelid = $1 AND obj_description(oid, 'pg_constraint') IS NOT NULL
     UNION ALL
     SELECT 'INDEX', ic.relname, obj_description(ic.oid, 'pg_class') FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = $1 AND obj_description(ic.oid, 'pg_class') IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.conrelid = $1)`,
    [oid],
  );
  const { rows: seq } = await db.query<{ oid: number; options: string }>(
    /* sql */ `SELECT s.seqrelid::int8 AS oid,
        format('INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s', s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
               CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END) AS options
       FROM pg_sequence s WHERE s.seqrelid = (${ID_SEQUENCE})`,
    [oid],
  );
  const r = t[0];
  return {
    owner: r.owner,
    unlogged: r.unlogged,
    tablespace: r.tablespace,
    options: r.options,
    toastOptions: r.toast_options,
    rowSecurity: r.rls,
    forceRowSecurity: r.force_rls,
    replicaIdentity: r.replident,
    replicaIndex: r.replica_index,
    clusterIndex: r.cluster_index,
    grants: await grantsOf(db, oid),
    columns,
    policies: policies.map((p) => p.def),
    triggers,
    rules: rules.map((x) => x.def),
    statistics: statistics.map((x) => x.def),
    comments,
    sequence: seq[0] ? { grants: await grantsOf(db, Number(seq[0].oid)), options: seq[0].options } : null,
  };
}

/** CREATE [UNLOGGED] TABLE name (...) WITH (...) TABLESPACE x: the parts around the columns. */
export function createTableParts(p: TableProps): { unlogged: string; tail: string } {
  const options = [...withList(p.options), ...withList(p.toastOptions, 'toast.')];
  return {
    unlogged: p.unlogged ? 'UNLOGGED ' : '',
    tail: `${options.length ? ` WITH (${options.join(', ')})` : ''}${p.tablespace ? ` TABLESPACE ${identFromCatalog(p.tablespace)}` : ''}`,
  };
}

/** A column's NOT NULL, under its constraint's name when it has one (PostgreSQL 18). */
export function notNullClause(p: TableProps, column: string): string {
  const name = p.columns.get(column)?.notNullName;
  return name ? ` CONSTRAINT ${identFromCatalog(name)} NOT NULL` : ' NOT NULL';
}

/** A column's COLLATE clause, when it is not its type's default. */
export function collateClause(p: TableProps, column: string): string {
  const c = p.columns.get(column)?.collation;
  return c ? ` COLLATE ${c}` : '';
}

const STORAGE: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
const COMPRESSION: Record<string, string> = { p: 'pglz', l: 'lz4' };

/** Per-column settings, right after CREATE TABLE (before the rows: storage and compression apply as they are written). */
export async function applyColumnSettings(c: Change, rel: Quoted, p: TableProps): Promise<void> {
  for (const col of p.columns.values()) {
    const q = `ALTER TABLE ${rel} ALTER COLUMN ${identFromCatalog(col.name)}`;
    if (col.storage && STORAGE[col.storage]) await c.ddl(`${q} SET STORAGE ${STORAGE[col.storage]}`);
    if (col.compression && COMPRESSION[col.compression]) await c.ddl(`${q} SET COMPRESSION ${COMPRESSION[col.compression]}`);
    if (col.stattarget !== null) await c.ddl(`${q} SET STATISTICS ${Number(col.stattarget)}`);
    if (col.options?.length) await c.ddl(`${q} SET (${withList(col.options).join(', ')})`);
  }
}

/** The identity options of the new id column: the old sequence's, so that ids go on as before. */
export function identityOptions(p: TableProps): string {
  return p.sequence ? ` ${p.sequence.options}` : '';
}

const grantee = (name: string) => (name === 'PUBLIC' ? 'PUBLIC' : identFromCatalog(name).toString());

/**
 * GRANTs as their grantors made them: the owner's first, then those of roles that hold a
 * grant option (as that role, SET ROLE), each once the option it needs is there.
 */
async function applyGrants(c: Change, on: string, owner: string, grants: Grant[], columnSuffix = ''): Promise<void> {
  const options = new Set<string>(); // grantee + privilege holding the grant option
  let pending = grants.filter((g) => !(g.grantee === owner && g.grantor === owner)); // the owner's own: see revokeFromOwner
  while (pending.length) {
    const ready = pending.filter((g) => g.grantor === owner || options.has(`${g.grantor}\u0000${g.privilege}`));
    if (!ready.length) return; // a grant whose grantor's option is gone: the comparison after says so
    for (const g of ready) {
      const stmt = `GRANT ${g.privilege}${columnSuffix} ON ${on} TO ${grantee(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''}`;
      if (g.grantor !== owner) await c.tx.query(`SET LOCAL ROLE ${identFromCatalog(g.grantor)}`);
      await c.ddl(stmt);
      if (g.grantor !== owner) await c.tx.query('RESET ROLE');
      if (g.grantable) options.add(`${g.grantee}\u0000${g.privilege}`);
    }
    pending = pending.filter((g) => !ready.includes(g));
  }
}

/** Privileges the owner gave up on the old table (a REVOKE from the owner) are given up again. */
async function revokeFromOwner(c: Change, on: string, oid: number, owner: string, grants: Grant[]): Promise<void> {
  const held = new Set(grants.filter((g) => g.grantee === owner && g.grantor === owner).map((g) => g.privilege));
  const defaults = await grantsOf(c.tx, oid); // the new table: the owner's defaults, and what applyGrants gave
  for (const d of defaults) if (d.grantee === owner && d.grantor === owner && !held.has(d.privilege)) await c.ddl(`REVOKE ${d.privilege} ON ${on} FROM ${grantee(owner)}`);
}

const key = (g: Grant) => `${g.grantor}\u0000${g.grantee}\u0000${g.privilege}\u0000${g.grantable}`;
const same = (a: Grant[], b: Grant[]) => a.map(key).sort().join('\n') === b.map(key).sort().join('\n');

/**
 * After the new table has the old name: row-level security, policies, triggers, rules,
 * statistics, replica identity, clustering, comments, then the owner and the grants
 * (checked against the old ones: a difference refuses the whole rebuild).
 */
export async function applyTableProps(c: Change, schema: string, name: string, oid: number, p: TableProps): Promise<void> {
  const rel = qualified(schema, name);
  if (p.rowSecurity) await c.ddl(`ALTER TABLE ${rel} ENABLE ROW LEVEL SECURITY`);
  if (p.forceRowSecurity) await c.ddl(`ALTER TABLE ${rel} FORCE ROW LEVEL SECURITY`);
  for (const def of p.policies) await c.ddl(def);
  for (const t of p.triggers) {
    await c.ddl(t.def);
    const state = ({ D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' } as Record<string, string>)[t.enabled];
    if (state) await c.ddl(`ALTER TABLE ${rel} ${state} TRIGGER ${identFromCatalog(t.name)}`);
  }
  for (const def of p.rules) await c.ddl(def.replace(/;\s*$/, ''));
  for (const def of p.statistics) await c.ddl(def);
  if (p.replicaIdentity === 'f') await c.ddl(`ALTER TABLE ${rel} REPLICA IDENTITY FULL`);
  if (p.replicaIdentity === 'n') await c.ddl(`ALTER TABLE ${rel} REPLICA IDENTITY NOTHING`);
  if (p.replicaIdentity === 'i' && p.replicaIndex) await c.ddl(`ALTER TABLE ${rel} REPLICA IDENTITY USING INDEX ${identFromCatalog(p.replicaIndex)}`);
  if (p.clusterIndex) await c.ddl(`ALTER TABLE ${rel} CLUSTER ON ${identFromCatalog(p.clusterIndex)}`);
  for (const x of p.comments) {
    const target = x.kind === 'CONSTRAINT' ? `CONSTRAINT ${identFromCatalog(x.name)} ON ${rel}` : `INDEX ${qualified(schema, x.name)}`;
    await c.ddl(`COMMENT ON ${target} IS ${literal(x.text)}`);
  }

  const { rows: me } = await c.tx.query<{ name: string }>(`SELECT current_user AS name`);
  if (p.owner !== me[0]!.name) await c.ddl(`ALTER TABLE ${rel} OWNER TO ${identFromCatalog(p.owner)}`);
  const table = rel.toString();
  await applyGrants(c, table, p.owner, p.grants);
  await revokeFromOwner(c, table, oid, p.owner, p.grants);
  for (const col of p.columns.values()) if (col.grants.length) await applyGrants(c, table, p.owner, col.grants, ` (${identFromCatalog(col.name)})`);
  const { rows: seq } = await c.tx.query<{ oid: number | null }>(`SELECT (${ID_SEQUENCE})::oid::int8 AS oid`, [oid]);
  const seqOid = seq[0]?.oid ?? null;
  if (p.sequence && seqOid !== null) {
    const { rows: seqName } = await c.tx.query<{ name: string }>(`SELECT $1::regclass::text AS name`, [seqOid]);
    await applyGrants(c, seqName[0]!.name, p.owner, p.sequence.grants);
  }

  // What came out must be what went in: a grant whose grantor cannot be acted as, or a
  // privilege this server spells differently, would otherwise be lost without a word.
  const differs: string[] = [];
  if (!same(await grantsOf(c.tx, oid), p.grants)) differs.push('the grants on the table');
  const { rows: attnums } = await c.tx.query<{ name: string; attnum: number }>(`SELECT attname AS name, attnum FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, [oid]);
  for (const a of attnums) if (!same(await grantsOf(c.tx, oid, a.attnum), p.columns.get(a.name)?.grants ?? [])) differs.push(`the grants on column ${a.name}`);
  if (p.sequence && seqOid !== null && !same(await grantsOf(c.tx, Number(seqOid)), p.sequence.grants)) differs.push('the grants on its id sequence');
  if (differs.length) throw conflict('rebuild_blocked', `a rebuild could not carry over ${differs.join(', ')}; nothing was changed`, undefined, { cannot_carry: differs });
}
