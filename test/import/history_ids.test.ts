// An import's one row-history entry names the ids its rows got, as ranges
// (server/import/history_entry.ts). When the id sequence moved by exactly the rows
// imported, the range is taken from the sequence without reading the rows (a million-row
// append spent about 0.6 s reading them back); otherwise the rows are read. Either way
// the ranges must be exactly the ids the import's rows have: proven here against the
// rows themselves, with another session inserting in the middle of the import, a
// sequence that caches values per session, rows PostgreSQL refused in skip mode (its
// batches run under savepoints), and an id column in the file. The last three were wrong
// before: rows with cached ids below the sequence's value were left out, and in skip mode
// the entry named no ids at all.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type pg from 'pg';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import { importCsvCopy } from '../../server/import/engine.js';
import { compileModel, type Model } from '../../server/model/compile.js';
import { createTable } from '../../server/schema/tables.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';

const actor = { name: 'history-ids-test' };

/** ids as [lo, hi] ranges, in order */
function ranges(ids: number[]): number[][] {
  const out: number[][] = [];
  for (const id of ids) {
    const last = out.at(-1);
    if (last && id === last[1]! + 1) last[1] = id;
    else out.push([id, id]);
  }
  return out;
}

describe('an import names the ids its rows got, exactly', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let pool: pg.Pool;
  let dataSchema: string;
  let n = 0;

  before(async () => {
    db = await freshDatabase();
    pool = createPool({ connectionString: db.url, max: 4, connectTimeoutMs: 5000 }, testLog);
    const config = loadConfig({ DATABASE_URL: db.url, LOCK_TIMEOUT_MS: '5000' });
    dataSchema = config.dataSchema;
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function table(): Promise<Model> {
    n += 1;
    const config = loadConfig({ DATABASE_URL: db.url, LOCK_TIMEOUT_MS: '5000' });
    const t = await createTable({ pool, log: testLog, config }, actor, { name: `Ids ${n}`, fields: [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number' }] });
    return compileModel(pool, dataSchema, t.id);
  }

  /** Runs the import in a transaction of its own; `middle` runs once the first rows are in PostgreSQL. */
  async function runImport(model: Model, rows: number, opts: { middle?: () => Promise<void>; onError?: 'stop' | 'skip'; withIds?: number } = {}) {
    const seqBefore = async () =>
      Number((await pool.query(`SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass), 0) AS v`, [model.relation])).rows[0].v);
    const start = await seqBefore();
    const line = (i: number) => `${opts.withIds !== undefined ? `${opts.withIds + i},` : ''}imp ${i},${i % 7 === 0 ? -i : i}\n`;
    async function* body() {
      yield Buffer.from(`${opts.withIds !== undefined ? 'id,' : ''}name,qty\n`);
      const half = Math.floor(rows / 2);
      let chunk = '';
      for (let i = 1; i <= half; i++) chunk += line(i);
      yield Buffer.from(chunk);
      if (opts.middle) {
        // wait until PostgreSQL has given ids to some of the first half
        for (let tries = 0; (await seqBefore()) < start + 10 && tries < 500; tries++) await sleep(10);
        await opts.middle();
      }
      chunk = '';
      for (let i = half + 1; i <= rows; i++) chunk += line(i);
      yield Buffer.from(chunk);
    }
    const tx = await pool.connect();
    try {
      await tx.query('BEGIN');
      const out = await importCsvCopy(tx, model, Readable.from(body()), { actor: actor.name, pool, onError: opts.onError, batchBytes: 512 });
      await tx.query('COMMIT');
      return out;
    } catch (err) {
      await tx.query('ROLLBACK');
      throw err;
    } finally {
      tx.release();
    }
  }

  async function entryIds(model: Model): Promise<number[][]> {
    const { rows } = await pool.query(`SELECT new_values FROM tablewright.row_history WHERE table_id = $1 AND op = 'import' ORDER BY id DESC LIMIT 1`, [model.tableId]);
    return rows[0].new_values.ids;
  }
  async function importedIds(model: Model): Promise<number[]> {
    const { rows } = await pool.query(`SELECT id FROM ${model.relation} WHERE name LIKE 'imp %' ORDER BY id`);
    return rows.map((r: { id: string | number }) => Number(r.id));
  }

  it('a quiet table, its sequence used before: one range, the rows\' own ids', async () => {
    const model = await table();
    await pool.query(`INSERT INTO ${model.relation} (name) SELECT 'before ' || g FROM generate_series(1, 37) g`);
    const out = await runImport(model, 500);
    expect(out.imported).to.equal(500);
    const ids = await importedIds(model);
    expect(ids).to.have.length(500);
    expect(await entryIds(model)).to.deep.equal(ranges(ids)).and.to.deep.equal([[38, 537]]);
  });

  it('another session inserts in the middle of the import: two ranges around its row', async () => {
    const model = await table();
    let other = 0;
    await runImport(model, 400, {
      middle: async () => {
        other = Number((await pool.query(`INSERT INTO ${model.relation} (name) VALUES ('other session') RETURNING id`)).rows[0].id);
      },
    });
    const ids = await importedIds(model);
    expect(ids).to.have.length(400);
    expect(ids, 'the other row got an id in the middle of the import').to.satisfy((xs: number[]) => xs[0]! < other && other < xs.at(-1)!);
    const entry = await entryIds(model);
    expect(entry).to.deep.equal(ranges(ids));
    expect(entry).to.have.length(2);
  });

  it('a sequence that caches values per session (CACHE 20, set by a DBA): the rows are read, exactly', async () => {
    const model = await table();
    await pool.query(`ALTER SEQUENCE ${(await pool.query(`SELECT pg_get_serial_sequence($1, 'id') AS s`, [model.relation])).rows[0].s} CACHE 20`);
    await pool.query(`INSERT INTO ${model.relation} (name) VALUES ('cached before')`);
    await runImport(model, 300);
    const ids = await importedIds(model);
    expect(ids).to.have.length(300);
    expect(await entryIds(model)).to.deep.equal(ranges(ids));
  });

  it('skip mode, rows PostgreSQL refused (a DBA\'s CHECK): the kept rows\' ids only', async () => {
    const model = await table();
    await pool.query(`ALTER TABLE ${model.relation} ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)`);
    const out = await runImport(model, 350, { onError: 'skip' });
    const ids = await importedIds(model);
    expect(out.rejected).to.equal(50); // every 7th row has a negative qty
    expect(ids).to.have.length(300);
    expect(await entryIds(model)).to.deep.equal(ranges(ids));
  });

  it('skip mode on a sequence that caches values: the rows are read, exactly', async () => {
    const model = await table();
    await pool.query(`ALTER SEQUENCE ${(await pool.query(`SELECT pg_get_serial_sequence($1, 'id') AS s`, [model.relation])).rows[0].s} CACHE 20`);
    await pool.query(`ALTER TABLE ${model.relation} ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)`);
    await pool.query(`INSERT INTO ${model.relation} (name) VALUES ('cached before')`);
    await runImport(model, 140, { onError: 'skip', middle: async () => void (await pool.query(`INSERT INTO ${model.relation} (name) VALUES ('other session')`)) });
    const ids = await importedIds(model);
    expect(ids).to.have.length(120);
    expect(await entryIds(model)).to.deep.equal(ranges(ids));
  });

  it('an id column in the file is not written: the ids the rows got from the sequence', async () => {
    const model = await table();
    await runImport(model, 200, { withIds: 1000 });
    const ids = await importedIds(model);
    expect(ids).to.have.length(200);
    expect(await entryIds(model)).to.deep.equal(ranges(ids)).and.to.deep.equal([[1, 200]]);
  });
});
