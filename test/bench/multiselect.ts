// Issue 19: how a multiple select is stored. The same data two ways, in plain SQL:
//   array     one tablewright.option_ids column (integer[] of option ids) + a GIN index
//   junction  a (row_id, option_id) table with its primary key and an index on option_id
// Each row has 0-4 of 20 options. Figures: insert, size, has_any / has_all / has_none
// counts, and reading a page of 100 rows with their option ids.
import pg from 'pg';
import { measure, printTable, type Figure } from './lib.js';

const ROWS = Number(process.env.BENCH_MULTISELECT_ROWS ?? 200_000);

export async function benchMultiselect(url: string): Promise<void> {
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    const figures: Figure[] = [];
    const once = async (name: string, q: string) => {
      const t0 = performance.now();
      await sql.query(q);
      figures.push({ name, unit: 'statement', samples: 1, medianMs: performance.now() - t0, p99Ms: performance.now() - t0 });
    };
    // the same pseudo-random sets for both (a row's options: hash of its id)
    const setOf = (v: string) => `ARRAY(SELECT DISTINCT 1 + (abs(hashint4(${v}::int * 7 + k)) % 20) FROM generate_series(1, (abs(hashint4(${v}::int)) % 5)) AS k ORDER BY 1)`;
    await sql.query(`CREATE TABLE a_rows (id bigint PRIMARY KEY, title text, tags tablewright.option_ids)`);
    await sql.query(`CREATE TABLE j_rows (id bigint PRIMARY KEY, title text)`);
    await sql.query(`CREATE TABLE j_tags (row_id bigint NOT NULL REFERENCES j_rows ON DELETE CASCADE, option_id int NOT NULL, PRIMARY KEY (row_id, option_id))`);
    await sql.query(`CREATE INDEX ON j_tags (option_id)`);
    await sql.query(`CREATE INDEX ON a_rows USING gin (tags)`);
    await once(`array: insert ${ROWS} rows`, `INSERT INTO a_rows SELECT g, 'r' || g, tablewright.option_set(${setOf('g')}) FROM generate_series(1, ${ROWS}) g`);
    await once(`junction: insert ${ROWS} rows + pairs`, `WITH r AS (INSERT INTO j_rows SELECT g, 'r' || g FROM generate_series(1, ${ROWS}) g RETURNING id)
       INSERT INTO j_tags SELECT id, x FROM r, unnest(${setOf('id')}) AS x`);
    for (const t of ['a_rows', 'j_rows', 'j_tags']) await sql.query(`VACUUM ANALYZE ${t}`);
    const same = await sql.query(`SELECT (SELECT count(*) FROM a_rows WHERE tags && '{3,7}') AS a, (SELECT count(DISTINCT row_id) FROM j_tags WHERE option_id IN (3, 7)) AS j`);
    const size = await sql.query(`SELECT pg_total_relation_size('a_rows') AS a, pg_total_relation_size('j_rows') + pg_total_relation_size('j_tags') AS j`);
    const q = (name: string, text: string) => measure(name, 'query', 20, () => sql.query(text), 3);
    figures.push(await q('array: count has_any {3,7}', `SELECT count(*) FROM a_rows WHERE tags && '{3,7}'::int[]`));
    figures.push(await q('junction: count has_any {3,7}', `SELECT count(*) FROM j_rows r WHERE EXISTS (SELECT 1 FROM j_tags t WHERE t.row_id = r.id AND t.option_id IN (3, 7))`));
    figures.push(await q('array: count has_all {3,7}', `SELECT count(*) FROM a_rows WHERE tags @> '{3,7}'::int[]`));
    figures.push(await q('junction: count has_all {3,7}', `SELECT count(*) FROM (SELECT row_id FROM j_tags WHERE option_id IN (3, 7) GROUP BY row_id HAVING count(*) = 2) s`));
    figures.push(await q('array: count has_none {3}', `SELECT count(*) FROM a_rows WHERE tags IS NULL OR NOT tags && '{3}'::int[]`));
    figures.push(await q('junction: count has_none {3}', `SELECT count(*) FROM j_rows r WHERE NOT EXISTS (SELECT 1 FROM j_tags t WHERE t.row_id = r.id AND t.option_id = 3)`));
    figures.push(await q('array: page of 100 with tags', `SELECT id, title, tags FROM a_rows ORDER BY id LIMIT 100 OFFSET 5000`));
    figures.push(await q('junction: page of 100 with tags', `SELECT r.id, r.title, (SELECT array_agg(option_id ORDER BY option_id) FROM j_tags t WHERE t.row_id = r.id) FROM j_rows r ORDER BY id LIMIT 100 OFFSET 5000`));
    printTable(`Multiple select storage, ${ROWS.toLocaleString('en')} rows, 0-4 of 20 options each (same sets both ways: has_any {3,7} = ${same.rows[0].a} / ${same.rows[0].j}); size: array ${(Number(size.rows[0].a) / 1e6).toFixed(1)} MB, junction ${(Number(size.rows[0].j) / 1e6).toFixed(1)} MB`, figures);
  } finally {
    await sql.end();
  }
}
