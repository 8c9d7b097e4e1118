// multiple_select over real HTTP and psql on real PostgreSQL: the column is an integer[]
// domain of option ids (a set: ascending, no repeats, never empty), so renaming an option
// rewrites no row; the four filters (index-friendly ones served by a GIN index); CSV both
// ways as comma-separated labels; conversions to and from text and single_select with
// loss reports and the lost values kept; a plain-form cell edit (no JS); adoption.
import { expect } from 'chai';
import fc from 'fast-check';
import { idSet, multipleSelectType } from '../../server/fields/multiple_select.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('multiple_select fields', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tid: number;
  let fid: number;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const res = await app.request('POST', '/tables', {
      json: {
        name: 'Posts',
        table_name: 'posts',
        fields: [
          { name: 'Title', type: 'text', column: 'title' },
          { name: 'Tags', type: 'multiple_select', column: 'tags', indexed: true, options: { choices: [{ label: 'red', color: 'red' }, { label: 'green', color: 'green' }, { label: 'blue', color: 'blue' }] } },
        ],
      },
    });
    expect(res.status, res.text).to.equal(201);
    tid = res.body.id;
    fid = res.body.fields[1].id;
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const rows = async (q: string) => (await app.request('GET', `/tables/${tid}/rows?${q}&sort=id&size=1000`)).body.rows as Array<Record<string, any>>;

  it('makes an option_ids column with a GIN index; a DBA cannot write a non-set', async () => {
    const col = await sql.one(`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'data.posts'::regclass AND attname = 'tags'`);
    expect(col.type).to.equal('tablewright.option_ids');
    const ix = await sql.one(`SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'data.posts'::regclass AND pg_get_indexdef(indexrelid) LIKE '%tags%'`);
    expect(ix.def).to.match(/USING gin \(tags\)/);
    for (const bad of ['{}', '{2,1}', '{1,1}', '{0}', '{1,NULL}', '{{1},{2}}']) {
      let err: any;
      await sql.exec(`INSERT INTO data.posts (title, tags) VALUES ('x', $1)`, [bad]).catch((e) => (err = e));
      expect(err?.code, bad).to.equal('23514');
    }
  });

  it('takes ids, labels, {id} objects or comma-separated labels; stores the set; reads labels in option order', async () => {
    const a = await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'a', tags: ['blue', 1, { id: 2 }, 'RED'] } });
    expect(a.status, a.text).to.equal(201);
    expect(a.body.tags).to.deep.equal([{ id: 1, label: 'red', color: 'red' }, { id: 2, label: 'green', color: 'green' }, { id: 3, label: 'blue', color: 'blue' }]);
    const b = await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'b', tags: 'blue, red' } });
    expect(b.body.tags.map((t: any) => t.label)).to.deep.equal(['red', 'blue']);
    await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'c', tags: [] } });
    await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'd', tags: 'green' } });
    const stored = await sql.rows(`SELECT title, tags::text FROM data.posts ORDER BY id`);
    expect(stored).to.deep.equal([{ title: 'a', tags: '{1,2,3}' }, { title: 'b', tags: '{1,3}' }, { title: 'c', tags: null }, { title: 'd', tags: '{2}' }]);
    const bad = await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'e', tags: 'red, purple' } });
    expect(bad.status).to.equal(422);
    expect(bad.body.error.field).to.equal('tags');
    expect(bad.body.error.message).to.match(/"purple" is not one of the options/);
    const bad2 = await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'e', tags: { no: 1 } } });
    expect(bad2.status).to.equal(422);
    for (const tags of [[null], ['red', null], [{ id: null }]]) {
      const res = await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'e', tags } });
      expect(res.status, `${JSON.stringify(tags)}: a null names no option, it does not clear the field`).to.equal(422);
      expect(res.body.error.field).to.equal('tags');
    }
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.posts`)).n, 'nothing written by a refusal').to.equal(4);
  });

  it('parse gives a set for any list of known options (property)', () => {
    const opts = { choices: [1, 2, 3, 4, 5].map((id) => ({ id, label: `o${id}`, color: 'gray' as const })) };
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 12 }), fc.boolean(), (ids, asLabels) => {
        const input = asLabels ? ids.map((i) => `O${i}`).join(' , ') : ids;
        expect(multipleSelectType.parse(input, opts)).to.deep.equal(idSet(ids));
      }),
    );
  });

  it('filters has_any, has_all, has_none, empty and not_empty (labels or ids); a bad label is a 400 naming the filter', async () => {
    const titles = async (q: string) => (await rows(q)).map((r) => r.title);
    expect(await titles('filter[tags][has_any]=green,blue')).to.deep.equal(['a', 'b', 'd']);
    expect(await titles('filter[tags][has_all]=red,blue')).to.deep.equal(['a', 'b']);
    expect(await titles('filter[tags][has_all]=1,2,3')).to.deep.equal(['a']);
    expect(await titles('filter[tags][has_none]=red')).to.deep.equal(['c', 'd']);
    expect(await titles('filter[tags][empty]=1')).to.deep.equal(['c']);
    expect(await titles('filter[tags][not_empty]=1')).to.deep.equal(['a', 'b', 'd']);
    const bad = await app.request('GET', `/tables/${tid}/rows?filter[tags][has_any]=purple`);
    expect(bad.status).to.equal(400);
    expect(bad.body.error.field).to.equal('filter[tags][has_any]');
    const wrongOp = await app.request('GET', `/tables/${tid}/rows?filter[tags][gt]=red`);
    expect(wrongOp.status).to.equal(400);
    expect(await titles('sort=tags')).to.have.length(4);
  });

  it('has_any and has_all use the GIN index on a big table', async () => {
    await sql.exec(`INSERT INTO data.posts (title, tags) SELECT 'bulk', CASE WHEN g % 100 = 0 THEN '{2}'::tablewright.option_ids END FROM generate_series(1, 20000) g`);
    await sql.exec(`ANALYZE data.posts`);
    for (const op of ['&&', '@>']) {
      const plan = await sql.rows(`EXPLAIN SELECT id FROM data.posts r WHERE r.tags ${op} $1::int[]`, [[3]]);
      expect(plan.map((p) => p['QUERY PLAN']).join('\n'), op).to.match(/Bitmap Index Scan/);
    }
    await sql.exec(`DELETE FROM data.posts WHERE title = 'bulk'`);
  });

  it('renaming an option, changing its colour or adding one rewrites no row', async () => {
    const before = await sql.rows(`SELECT ctid::text, xmin::text FROM data.posts ORDER BY id`);
    const f = await app.request('GET', `/tables/${tid}/fields/${fid}`);
    const choices = (f.body.options?.choices ?? f.body.field?.options?.choices) as any[];
    const res = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, {
      json: { options: { choices: [{ ...choices[0], label: 'crimson' }, { ...choices[1], color: 'yellow' }, choices[2], { label: 'black' }] } },
    });
    expect(res.status, res.text).to.equal(200);
    expect(await sql.rows(`SELECT ctid::text, xmin::text FROM data.posts ORDER BY id`)).to.deep.equal(before);
    const r = await rows('filter[title][eq]=b');
    expect(r[0]!.tags.map((t: any) => t.label)).to.deep.equal(['crimson', 'blue']);
  });

  it('CSV: export writes comma-separated labels; importing that file gives the same values', async () => {
    const csv = await app.request('GET', `/tables/${tid}/rows.csv`, { headers: { accept: 'text/csv' } });
    expect(csv.status).to.equal(200);
    expect(csv.text).to.include('"crimson, green, blue"');
    const before = await sql.rows(`SELECT title, tags::text FROM data.posts ORDER BY id`);
    const imported = await app.request('POST', `/tables/${tid}/rows/import`, { body: csv.text, headers: { 'content-type': 'text/csv', accept: 'application/json' } });
    expect(imported.status, imported.text).to.equal(200);
    const after = await sql.rows(`SELECT title, tags::text FROM data.posts ORDER BY id`);
    expect(after).to.deep.equal([...before, ...before]);
    await sql.exec(`DELETE FROM data.posts WHERE id > (SELECT min(id) + 3 FROM data.posts)`);
  });

  it('a plain form (no JS) edits a cell: each chosen option is one value after the hidden marker; none chosen clears it', async () => {
    const id = (await rows('filter[title][eq]=d'))[0]!.id;
    const edit = await app.request('GET', `/tables/${tid}/rows/${id}/cells/tags/edit`, { headers: { accept: 'text/html', 'HX-Request': 'true' } });
    expect(edit.status).to.equal(200);
    expect(edit.text).to.match(/<select[^>]*multiple/);
    const form = (values: string[]) => new URLSearchParams([['_method', 'PATCH'], ['value', ','], ...values.map((v) => ['value', v] as [string, string])]).toString();
    const send = (values: string[]) =>
      app.request('POST', `/tables/${tid}/rows/${id}/cells/tags`, { body: form(values), headers: { 'content-type': 'application/x-www-form-urlencoded', 'HX-Request': 'true', accept: 'text/html' } });
    const res = await send(['1', '3']);
    expect(res.status, res.text).to.equal(200);
    expect(res.text).to.include('crimson').and.include('blue');
    expect((await sql.one(`SELECT tags::text FROM data.posts WHERE id = $1`, [id])).tags).to.equal('{1,3}');
    await send([]);
    expect((await sql.one(`SELECT tags::text FROM data.posts WHERE id = $1`, [id])).tags).to.equal(null);
    await send(['2']);
  });

  it('to single_select: one option keeps its id, several are reported and kept in the trash; and back', async () => {
    const dry = await app.request('PATCH', `/tables/${tid}/fields/${fid}?dry_run=1`, { json: { type: 'single_select' } });
    expect(dry.status, dry.text).to.equal(200);
    const report = dry.body.report ?? dry.body;
    expect(report.lost).to.equal(2);
    const refused = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, { json: { type: 'single_select' } });
    expect(refused.status).to.equal(422);
    expect(refused.body.error.code).to.equal('lossy_conversion');
    const done = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, { json: { type: 'single_select', confirm_loss: true } });
    expect(done.status, done.text).to.equal(200);
    expect(await sql.rows(`SELECT title, tags FROM data.posts ORDER BY id`)).to.deep.equal([
      { title: 'a', tags: null }, { title: 'b', tags: null }, { title: 'c', tags: null }, { title: 'd', tags: 2 },
    ]);
    const trashedCol = await sql.rows(`SELECT attname FROM pg_attribute WHERE attrelid = 'data.posts'::regclass AND attname LIKE '\\_tw\\_%' AND NOT attisdropped`);
    expect(trashedCol.length, 'the lost values are kept in a trashed copy').to.be.greaterThan(0);
    const back = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, { json: { type: 'multiple_select' } });
    expect(back.status, back.text).to.equal(200);
    expect(await sql.rows(`SELECT title, tags::text FROM data.posts ORDER BY id`)).to.deep.equal([
      { title: 'a', tags: null }, { title: 'b', tags: null }, { title: 'c', tags: null }, { title: 'd', tags: '{2}' },
    ]);
    expect((await rows('filter[title][eq]=d'))[0]!.tags[0]).to.include({ id: 2, label: 'green', color: 'yellow' });
  });

  it('from text: comma-separated labels become options; a text with an unknown label is reported lost; and to text again', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Notes', table_name: 'notes', fields: [{ name: 'Kinds', type: 'text', column: 'kinds' }] } });
    const nid = t.body.id;
    const kf = t.body.fields[0].id;
    await app.request('POST', `/tables/${nid}/rows`, { json: [{ kinds: 'a, b' }, { kinds: 'B,c' }, { kinds: '' }, { kinds: null }, { kinds: 'a,,a' }] });
    const made = await app.request('PATCH', `/tables/${nid}/fields/${kf}`, { json: { type: 'multiple_select' } });
    expect(made.status, made.text).to.equal(200);
    const after = await sql.rows(`SELECT kinds::text FROM data.notes ORDER BY id`);
    expect(after.map((r) => r.kinds)).to.deep.equal(['{1,2}', '{2,3}', null, null, '{1}']);
    const toText = await app.request('PATCH', `/tables/${nid}/fields/${kf}`, { json: { type: 'text' } });
    expect(toText.status, toText.text).to.equal(200);
    expect((await sql.rows(`SELECT kinds FROM data.notes ORDER BY id`)).map((r) => r.kinds)).to.deep.equal(['a, B', 'B, c', null, null, 'a']);
    // with given options, a label that is none of them is a loss, reported by row
    await sql.exec(`UPDATE data.notes SET kinds = 'a, zzz' WHERE kinds = 'a'`);
    const lossy = await app.request('PATCH', `/tables/${nid}/fields/${kf}?dry_run=1`, { json: { type: 'multiple_select', options: { choices: ['a', 'b', 'c'] } } });
    const report = lossy.body.report ?? lossy.body;
    expect(report.lost).to.equal(1);
    expect(report.examples[0].value).to.equal('a, zzz');
  });

  it('an option label with a comma is refused, naming options', async () => {
    const res = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, { json: { options: { choices: [{ label: 'a,b' }] } } });
    expect(res.status).to.equal(400);
    expect(res.body.error.field).to.match(/^options/);
  });

  it('the option rules single_select has hold here too: labels unique ignoring case, ids unique, no NUL, at most 500 (each a 400 naming options)', async () => {
    const before = (await app.request('GET', `/tables/${tid}/fields/${fid}`)).body.options;
    const bad: Array<[string, unknown[], RegExp]> = [
      ['same label, other case', [{ label: 'Red' }, { label: 'red' }], /two options are labelled/],
      ['same id', [{ id: 7, label: 'x' }, { id: 7, label: 'y' }], /two options have the id 7/],
      ['NUL byte', [{ label: 'a\u0000b' }], /NUL/],
      ['501 options', Array.from({ length: 501 }, (_, i) => ({ label: `o${i}` })), /at most 500/],
    ];
    for (const [what, choices, said] of bad) {
      const res = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, { json: { options: { choices } } });
      expect(res.status, what).to.equal(400);
      expect(res.body.error.field, what).to.match(/^options/);
      expect(res.body.error.message, what).to.match(said);
    }
    expect((await app.request('GET', `/tables/${tid}/fields/${fid}`)).body.options, 'nothing changed').to.deep.equal(before);
  });

  it('adoption: a DBA-made integer[] column is adopted read-only (ids without labels), our own domain column as a multiple select; reconcile is clean after', async () => {
    const nid = (await sql.one(`SELECT id FROM tablewright.tables WHERE table_name = 'notes'`)).id;
    await sql.exec(`ALTER TABLE data.notes ADD COLUMN dba_ids integer[], ADD COLUMN dba_opts tablewright.option_ids`);
    await sql.exec(`UPDATE data.notes SET dba_ids = '{3,1}', dba_opts = '{1,4}'`);
    const adopt = async (col: string) => {
      const out = await app.request('POST', '/reconcile/actions', { json: { item: `untracked_column:t${nid}:${col}`, action: 'adopt' } });
      expect(out.status, out.text).to.equal(200);
      return out.body.result;
    };
    expect(await adopt('dba_ids')).to.include({ column: 'dba_ids', type: 'multiple_select', read_only: true });
    expect(await adopt('dba_opts')).to.include({ column: 'dba_opts', type: 'multiple_select', read_only: false });
    const r = (await app.request('GET', `/tables/${nid}/rows?size=1`)).body.rows[0];
    expect(r.dba_ids.map((x: any) => x.id), 'shown as ids (#n)').to.deep.equal([1, 3]);
    expect(r.dba_opts).to.deep.equal([{ id: 1, label: null, color: null }, { id: 4, label: null, color: null }]);
    const rec = await app.request('GET', '/reconcile');
    expect(rec.body.items.filter((i: any) => JSON.stringify(i).includes('dba_')), JSON.stringify(rec.body.items)).to.deep.equal([]);
  });
});
