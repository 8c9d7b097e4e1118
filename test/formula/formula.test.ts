// Formulas on real PostgreSQL, over real HTTP and psql: the parser's errors name the
// position; a formula is a STORED generated column psql reads; renaming a field keeps it
// working; trashing a field it uses makes it read as empty (no failing query) and reconcile
// report it, and restoring repairs it; it is read-only; filters and sorts work. A property
// test compiles random trees and compares PostgreSQL's answers with the JS evaluator's on
// random rows (NULLs, zero divisors, bigint extremes, 28-digit decimals; letters are ASCII:
// upper/lower of other letters follow the database's collation); the escaping
// helper is tested by property too.
import { expect } from 'chai';
import fc from 'fast-check';
import { literal } from '../../server/db/ident.js';
import { FormulaError, type Node } from '../../server/formula/ast.js';
import { compileFormula } from '../../server/formula/compile.js';
import { Dec, evaluate, type Value } from '../../server/formula/evaluate.js';
import { parseFormula, printFormula } from '../../server/formula/parse.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { waitForJob } from '../helpers/jobs.js';

describe('formula fields', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tid: number;
  const F: Record<string, { id: number; column: string; type: string }> = {};

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const res = await app.request('POST', '/tables', {
      json: {
        name: 'Items',
        table_name: 'items',
        fields: [
          { name: 'Price', type: 'number', options: { decimals: 2 }, column: 'price' },
          { name: 'Qty', type: 'number', column: 'qty' },
          { name: 'Name', type: 'text', column: 'name' },
          { name: 'Code', type: 'text', column: 'code' },
          { name: 'Start', type: 'date', column: 'start' },
          { name: 'End', type: 'date', column: 'end_on' },
          { name: 'Paid', type: 'boolean', column: 'paid' },
        ],
      },
    });
    expect(res.status, res.text).to.equal(201);
    tid = res.body.id;
    for (const f of res.body.fields) F[f.name] = { id: f.id, column: f.column, type: f.type };
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const addFormula = (name: string, expression: string, extra: Record<string, unknown> = {}) =>
    app.request('POST', `/tables/${tid}/fields`, { json: { name, type: 'formula', options: { expression }, ...extra } });

  it('refuses a bad expression with a 422 naming options.expression and the position; nothing changes', async () => {
    const before = await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tid]);
    const cases: Array<[string, RegExp]> = [
      ['{Price} * ', /ends too soon \(at character 11\)/],
      ['{Nope} + 1', /no field is named "Nope" \(at character 1\)/],
      ['{Price} + {Name}', /\+ needs a number, not text \(at character 9\)/],
      ["upper({Qty})", /upper\(\)'s argument 1 needs text, not a number \(at character 7\)/],
      ['frob(1)', /"frob" is not a function/],
      ['if({Paid}, 1, \'x\')', /both must be of one type/],
      ["'open", /not closed/],
      ['round({Price}, {Qty})', /places are a whole number/],
      ['1 $ 2', /unexpected "\$" \(at character 3\)/],
      ['(1 + 2', /expected "\)" at the end/],
    ];
    for (const [expression, re] of cases) {
      const res = await addFormula('Bad', expression);
      expect(res.status, expression).to.equal(422);
      expect(res.body.error.field, expression).to.equal('options.expression');
      expect(res.body.error.message, expression).to.match(re);
    }
    expect((await addFormula('Bad', '{Price}', { unique: true })).status).to.equal(400);
    expect((await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tid])).version).to.equal(before.version);
  });

  it('upper()/lower() and comparisons of text that reads no field are a 422 naming options.expression, never a 500; over a field they work', async () => {
    // PostgreSQL folds such a part while it checks a generated column, before it has a
    // collation, and refuses the column: this used to answer 500 (42P22).
    const before = await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tid]);
    for (const [expression, at] of [["upper('x') & {Name}", 1], ["lower('A' & 'b')", 1], ["if('a' < 'b', {Qty}, 0)", 8], ["{Name} & upper(left('abc', 2))", 10]] as const) {
      const res = await addFormula('Const', expression);
      expect(res.status, `${expression}: ${res.text}`).to.equal(422);
      expect(res.body.error.field).to.equal('options.expression');
      expect(res.body.error.message, expression).to.include(`reads no field is always the same`).and.include(`(at character ${at})`);
    }
    expect((await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tid])).version).to.equal(before.version);
    for (const expression of ["upper({Name}) & 'x'", "if({Name} = 'x', 1, 0)", "lower(if({Paid}, 'A', 'B'))"]) {
      const res = await addFormula(`Ok ${expression.length}`, expression);
      expect(res.status, `${expression}: ${res.text}`).to.equal(201);
      expect((await app.request('DELETE', `/tables/${tid}/fields/${res.body.id}`)).status).to.equal(200);
    }
  });

  it('changing the type or decimals of a field a stored formula reads is a 409 used_by_formula (request and job), never a 500; nothing changes', async () => {
    const res = await addFormula('Twice', '{Qty} * 2');
    expect(res.status, res.text).to.equal(201);
    const typeOf = async () => (await sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'data.items'::regclass AND attname = $1`, [F.Qty!.column])).t;
    const before = { version: (await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tid])).version, type: await typeOf() };
    for (const change of [{ type: 'text' }, { options: { decimals: 2 } }]) {
      const refused = await app.request('PATCH', `/tables/${tid}/fields/${F.Qty!.id}`, { json: change });
      expect(refused.status, `${JSON.stringify(change)}: ${refused.text}`).to.equal(409);
      expect(refused.body.error.code).to.equal('used_by_formula');
      expect(refused.body.error.details.generated_columns).to.deep.equal([res.body.column]);
      // the dry run says so too, naming the formula
      const dry = await app.request('PATCH', `/tables/${tid}/fields/${F.Qty!.id}`, { json: { ...change, dry_run: 1 } });
      expect(dry.status, `dry run ${JSON.stringify(change)}: ${dry.text}`).to.equal(409);
      expect(dry.body.error.details.formulas.map((f: { name: string }) => f.name)).to.deep.equal(['Twice']);
    }
    const queued = await app.request('PATCH', `/tables/${tid}/fields/${F.Qty!.id}?async=1`, { json: { options: { decimals: 2 } } });
    expect(queued.status, queued.text).to.equal(202);
    const job = await waitForJob(app, queued.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('used_by_formula');
    expect({ version: (await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tid])).version, type: await typeOf() }).to.deep.equal(before);
    expect((await app.request('DELETE', `/tables/${tid}/fields/${res.body.id}`)).status).to.equal(200);
  });

  it('a formula over the row is a STORED generated column psql reads; the API answers it, read-only', async () => {
    const res = await addFormula('Total', '{Price} * {Qty}');
    expect(res.status, res.text).to.equal(201);
    F.Total = { id: res.body.id, column: res.body.column, type: 'formula' };
    const label = await addFormula('Label', "upper(left({Name}, 3)) & '-' & {Code} & if({Paid}, ' (paid)', '')");
    expect(label.status, label.text).to.equal(201);
    const days = await addFormula('Days', 'date_diff({Start}, {End})');
    expect(days.status, days.text).to.equal(201);
    const def = await sql.one(`SELECT attgenerated, pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = 'data.items'::regclass AND a.attname = 'total'`);
    expect(def.attgenerated).to.equal('s');
    expect(def.expr).to.match(/price.*qty/);
    const row = await app.request('POST', `/tables/${tid}/rows`, { json: { price: '2.50', qty: 4, name: 'widget', code: 'W1', start: '2024-01-01', end_on: '2024-03-01', paid: true } });
    expect(row.status, row.text).to.equal(201);
    expect(row.body).to.include({ total: 10, label: 'WID-W1 (paid)', days: 60 });
    expect(await sql.one(`SELECT total::text, label, days::text FROM data.items WHERE id = $1`, [row.body.id])).to.deep.equal({ total: '10.00', label: 'WID-W1 (paid)', days: '60' });
    const write = await app.request('PATCH', `/tables/${tid}/rows/${row.body.id}`, { json: { total: 3 } });
    expect(write.status).to.equal(422);
    expect(write.body.error.field).to.equal('total');
    await app.request('POST', `/tables/${tid}/rows`, { json: { price: '1.00', qty: 1, name: 'bolt', code: 'B' } });
    await app.request('POST', `/tables/${tid}/rows`, { json: { price: '0.10', qty: 1000, name: 'nut' } });
    const list = async (q: string) => (await app.request('GET', `/tables/${tid}/rows?${q}`)).body.rows.map((r: any) => r.name);
    expect(await list('filter[total][gt]=5&sort=-total')).to.deep.equal(['nut', 'widget']);
    expect(await list('filter[label][contains]=BOL')).to.deep.equal(['bolt']);
    expect(await list('sort=total')).to.deep.equal(['bolt', 'widget', 'nut']);
    expect(await list('filter[days][empty]=1&sort=id')).to.deep.equal(['bolt', 'nut']);
  });

  it('CSV: export writes the formula; importing that file skips its column and the rows come back the same', async () => {
    const csv = await app.request('GET', `/tables/${tid}/rows.csv`, { headers: { accept: 'text/csv' } });
    expect(csv.text).to.include('WID-W1 (paid)');
    const before = await sql.rows(`SELECT total::text, label FROM data.items ORDER BY id`);
    const imported = await app.request('POST', `/tables/${tid}/rows/import`, { body: csv.text, headers: { 'content-type': 'text/csv', accept: 'application/json' } });
    expect(imported.status, imported.text).to.equal(200);
    expect(await sql.rows(`SELECT total::text, label FROM data.items ORDER BY id`)).to.deep.equal([...before, ...before]);
    await sql.exec(`DELETE FROM data.items WHERE id > 3`);
  });

  /** what the expression change adds to every total (0 where the server cannot change it) */
  let plus = 1;

  it('renaming a field keeps the formula working and its expression reads the new name', async () => {
    const res = await app.request('PATCH', `/tables/${tid}/fields/${F.Price!.id}`, { json: { name: 'Unit price', column: 'unit_price' } });
    expect(res.status, res.text).to.equal(200);
    const f = await app.request('GET', `/tables/${tid}/fields/${F.Total!.id}`);
    const opts = f.body.options ?? f.body.field?.options;
    expect(opts.expression).to.equal('{Unit price} * {Qty}');
    const rows = (await app.request('GET', `/tables/${tid}/rows?sort=id`)).body.rows;
    expect(rows.map((r: any) => r.total)).to.deep.equal([10, 1, 100]);
    const changed = await app.request('PATCH', `/tables/${tid}/fields/${F.Total!.id}`, { json: { options: { expression: '{Unit price} * {Qty} + 1' } } });
    const pg17 = Number((await sql.one(`SELECT current_setting('server_version_num') AS v`)).v) >= 170000;
    if (!pg17) {
      // before PostgreSQL 17 a generated column's expression cannot change: a clear 409, nothing changes
      expect(changed.status, changed.text).to.equal(409);
      expect(changed.body.error.field).to.equal('options.expression');
      expect((await sql.rows(`SELECT total::text FROM data.items ORDER BY id`)).map((r) => r.total)).to.deep.equal(['10.00', '1.00', '100.00']);
      plus = 0;
      return;
    }
    expect(changed.status, changed.text).to.equal(200);
    expect((await sql.rows(`SELECT total::text FROM data.items ORDER BY id`)).map((r) => r.total)).to.deep.equal(['11.00', '2.00', '101.00']);
  });

  it('trashing a field it uses: the formula reads empty (queries do not fail), reconcile reports it; restoring repairs it', async () => {
    const del = await app.request('DELETE', `/tables/${tid}/fields/${F.Qty!.id}`);
    expect(del.status, del.text).to.equal(200);
    const rows = await app.request('GET', `/tables/${tid}/rows?sort=total&filter[total][empty]=1`);
    expect(rows.status, rows.text).to.equal(200);
    expect(rows.body.rows.map((r: any) => r.total)).to.deep.equal([null, null, null]);
    const rec = await app.request('GET', '/reconcile');
    const item = rec.body.items.find((i: any) => i.kind === 'broken_formula');
    expect(item?.message, JSON.stringify(rec.body.items)).to.match(/"Total".*"Qty"/);
    const ins = await app.request('POST', `/tables/${tid}/rows`, { json: { name: 'while broken' } });
    expect(ins.status, ins.text).to.equal(201);
    const back = await app.request('POST', `/tables/${tid}/fields/${F.Qty!.id}/restore`);
    expect(back.status, back.text).to.equal(200);
    const again = (await app.request('GET', `/tables/${tid}/rows?sort=id`)).body.rows;
    expect(again.map((r: any) => r.total)).to.deep.equal([10 + plus, 1 + plus, 100 + plus, null]);
    expect((await app.request('GET', '/reconcile')).body.items.filter((i: any) => i.kind === 'broken_formula')).to.deep.equal([]);
  });

  it('literal() (the one escaping helper) gives back any text exactly (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0') && (s as string & { isWellFormed(): boolean }).isWellFormed()), async (s) => {
        const row = await sql.one(`SELECT ${literal(s)}::text = $1 AS same, ${literal(s)}::text AS back`, [s]);
        expect(row.back).to.equal(s);
      }),
      { numRuns: 300 },
    );
  });

  it('PostgreSQL and the JS evaluator agree on random formulas over random rows (property)', async () => {
    await sql.exec(`CREATE TABLE data.fx (id int PRIMARY KEY, a numeric(30,2), b bigint, s text, t text, d date, e date, p boolean)`);
    const cols = { 1: ['a', 'number'], 2: ['b', 'number'], 3: ['s', 'text'], 4: ['t', 'text'], 5: ['d', 'date'], 6: ['e', 'date'], 7: ['p', 'boolean'] } as Record<number, [string, string]>;
    const num = fc.oneof(
      fc.constantFrom('0', '0.00', '1', '-1', '99999999999999999999999999.99', '-99999999999999999999999999.99', '0.01', '2.50'),
      fc.tuple(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.nat(99)).map(([w, f]) => `${w}.${String(f).padStart(2, '0')}`),
    );
    const big = fc.oneof(fc.constantFrom('0', '9223372036854775807', '-9223372036854775808', '1', '-3'), fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }).map(String));
    const text = fc.string({ unit: fc.constantFrom('a', 'B', 'c', ' ', '1', '✓'), maxLength: 8 });
    const day = fc.integer({ min: -20000, max: 40000 });
    const row = fc.record({ a: fc.option(num), b: fc.option(big), s: fc.option(text), t: fc.option(text), d: fc.option(day), e: fc.option(day), p: fc.option(fc.boolean()) });
    const rows = fc.sample(row, { numRuns: 60, seed: 19 });
    for (const [i, r] of rows.entries()) {
      await sql.exec(`INSERT INTO data.fx VALUES ($1, $2, $3, $4, $5, $6::int + date '1970-01-01', $7::int + date '1970-01-01', $8)`, [i + 1, r.a, r.b, r.s, r.t, r.d, r.e, r.p]);
    }
    const valueOf = (r: (typeof rows)[number], id: number): Value => {
      const [c] = cols[id]!;
      const v = (r as Record<string, unknown>)[c];
      if (v === null) return null;
      // a numeric(30,2) holds its value at scale 2 ('0' is 0.00), as its text shows
      if (c === 'a') return Dec.parse(String(v)).round(2);
      if (c === 'b') return Dec.parse(String(v));
      if (c === 'd' || c === 'e') return { days: v as number };
      return v as Value;
    };

    // random well-typed trees; `exact` keeps division out (its digits are PostgreSQL's own)
    const pos = 0;
    const lit = (text: string): Node => ({ k: 'num', text, pos });
    const numTree = (depth: number, exact: boolean): fc.Arbitrary<Node> =>
      depth <= 0
        ? fc.oneof(fc.constantFrom<Node>({ k: 'field', id: 1, pos }, { k: 'field', id: 2, pos }), fc.constantFrom('0', '1', '2.5', '1000000000000', '0.001').map(lit))
        : fc.oneof(
            numTree(0, exact),
            fc.tuple(fc.constantFrom<'+' | '-' | '*' | '/'>(...(exact ? (['+', '-', '*'] as const) : (['+', '-', '*', '/'] as const))), numTree(depth - 1, exact), numTree(depth - 1, exact)).map(([op, left, right]) => ({ k: 'bin', op, left, right, pos }) as Node),
            numTree(depth - 1, exact).map((arg) => ({ k: 'neg', arg, pos }) as Node),
            fc.tuple(fc.constantFrom('abs', 'round'), numTree(depth - 1, true), fc.nat(4)).map(([fn, a, d]) => ({ k: 'call', fn, args: fn === 'round' ? [a, lit(String(d))] : [a], pos }) as Node),
            textTree(depth - 1).map((a) => ({ k: 'call', fn: 'len', args: [a], pos }) as Node),
            fc.constant<Node>({ k: 'call', fn: 'date_diff', args: [{ k: 'field', id: 5, pos }, { k: 'field', id: 6, pos }], pos }),
            fc.tuple(boolTree(depth - 1), numTree(depth - 1, exact), numTree(depth - 1, exact)).map(([c, a, b]) => ({ k: 'call', fn: 'if', args: [c, a, b], pos }) as Node),
          );
    const textTree = (depth: number): fc.Arbitrary<Node> =>
      depth <= 0
        ? fc.oneof(fc.constantFrom<Node>({ k: 'field', id: 3, pos }, { k: 'field', id: 4, pos }), fc.constantFrom("it's", '', ' x ', '✓').map((value) => ({ k: 'str', value, pos }) as Node))
        : fc.oneof(
            textTree(0),
            fc.tuple(textTree(depth - 1), fc.oneof(textTree(depth - 1), numTree(depth - 1, true), fc.constant<Node>({ k: 'field', id: 5, pos }), fc.constant<Node>({ k: 'field', id: 7, pos })))
              .map(([left, right]) => ({ k: 'bin', op: '&', left, right, pos }) as Node),
            fc.tuple(fc.constantFrom('upper', 'lower', 'trim'), textTree(depth - 1)).map(([fn, a]) => ({ k: 'call', fn, args: [a], pos }) as Node),
            fc.tuple(fc.constantFrom('left', 'right'), textTree(depth - 1), numTree(depth - 1, true)).map(([fn, a, n]) => ({ k: 'call', fn, args: [a, n], pos }) as Node),
          );
    const boolTree = (depth: number): fc.Arbitrary<Node> =>
      depth <= 0
        ? fc.constantFrom<Node>({ k: 'field', id: 7, pos }, { k: 'bool', value: true, pos })
        : fc.oneof(
            boolTree(0),
            fc.tuple(fc.constantFrom('=', '!=', '<', '<=', '>', '>='), numTree(depth - 1, true), numTree(depth - 1, true)).map(([op, left, right]) => ({ k: 'bin', op, left, right, pos }) as Node),
            fc.tuple(fc.constantFrom('=', '!='), textTree(depth - 1), textTree(depth - 1)).map(([op, left, right]) => ({ k: 'bin', op, left, right, pos }) as Node),
            fc.tuple(fc.constantFrom('and', 'or'), boolTree(depth - 1), boolTree(depth - 1)).map(([op, left, right]) => ({ k: 'bin', op, left, right, pos }) as Node),
            boolTree(depth - 1).map((arg) => ({ k: 'not', arg, pos }) as Node),
          );
    const division = fc.tuple(numTree(2, false), numTree(1, true)).map(([left, right]) => ({ k: 'bin', op: '/', left, right, pos }) as Node);
    const tree = fc.oneof(numTree(3, false), division, textTree(3), boolTree(3));
    const names: Record<number, string> = { 1: 'A', 2: 'B', 3: 'S', 4: 'T', 5: 'D', 6: 'E', 7: 'P' };
    const fieldRef = (id: number) => ({ name: names[id]!, type: { number: 'number', text: 'text', date: 'date', boolean: 'boolean' }[cols[id]![1]]!, ref: `r.${cols[id]![0]}` });
    let withDivision = 0;
    await fc.assert(
      fc.asyncProperty(tree, async (t) => {
        // the printed text parses back to the same tree
        const text = printFormula(t, (id) => names[id]!);
        const reparsed = parseFormula(text, (n) => Number(Object.entries(names).find(([, v]) => v === n)?.[0]));
        expect(printFormula(reparsed, (id) => names[id]!)).to.equal(text);
        // upper()/lower()/comparisons of constant text are refused (PostgreSQL cannot store them)
        let c: ReturnType<typeof compileFormula>;
        try {
          c = compileFormula(t, fieldRef);
        } catch (err) {
          fc.pre(!(err instanceof FormulaError && /reads no field/.test(err.message)));
          throw err;
        }
        const got = await sql.rows(`SELECT id, (${c.sql})::text AS v FROM data.fx r ORDER BY id`);
        const inexact = text.includes('/');
        if (inexact) withDivision++;
        for (const g of got) {
          const want = evaluate(t, (id) => valueOf(rows[g.id - 1]!, id));
          const wantText = want === null ? null : want instanceof Dec ? want.toString() : typeof want === 'object' ? new Date(want.days * 86_400_000).toISOString().slice(0, 10) : String(want);
          if (inexact && want instanceof Dec && g.v !== null) {
            const diff = Math.abs(Number(g.v) - want.toNumber());
            expect(diff, `${text} on row ${g.id}: ${g.v} vs ${wantText}`).to.be.at.most(1e-9 * Math.max(1, Math.abs(want.toNumber())));
          } else {
            expect(g.v, `${text} on row ${g.id}`).to.equal(wantText);
          }
        }
      }),
      { numRuns: 150, seed: 1919 },
    );
    expect(withDivision, 'some formulas divide (by zero too: rows with 0)').to.be.greaterThan(5);
  });
});
