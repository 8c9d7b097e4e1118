// Tables and their fields (CONTRACT.md). Thin: parse, call one schema operation, answer.
import type { Request, Response } from 'express';
import type { AppContext } from '../../context.js';
import { AppError, badRequest, conflict } from '../../errors.js';
import { renderView } from '../render.js';
import { allFieldTypes, fieldType } from '../../fields/registry.js';
import { CHANGE_FIELD } from '../../jobs/handlers.js';
import { enqueueJob } from '../../jobs/queue.js';
import { answerQueued } from './jobs.js';
import { COLORS } from '../../fields/single_select.js';
import { planAddField, planFieldUpdate, typeChangeOf } from '../../schema/field_plan.js';
import { acceptOnlineChange, onlineKindOf, ONLINE_CHANGE } from '../../schema/online/run.js';
import { onlineObstaclesConflict, onlineTypeChangeObstacles } from '../../schema/online/obstacles.js';
import { assertConvertible } from '../../schema/system_fields.js';
import { chooseOnline, planFromStatements, tableSize } from '../../schema/plan.js';
import { dryRunStatements } from '../../schema/change.js';
import { indexesOfField, listTableIndexes, tableIndexJson } from '../../schema/table_indexes.js';
import { addField, assertFormulasAllowTypeChange, changesTypeOrOptions, normaliseOptions, previewFieldChange, reorderFields, restoreField, sqlEnv, trashField, updateField, type FieldSpec } from '../../schema/fields.js';
import { asArray, flag, formOptionsFor, idParam } from '../../schema/input.js';
import { estimatedRows, fieldJson, getField, getLiveTable, getTable, listFields, listTables, tableJson } from '../../schema/metadata.js';
import { createTable, describeTable, renameTable, restoreTable, trashTable } from '../../schema/tables.js';
import { answerKind, reply } from '../negotiate.js';
import { route } from '../route.js';
import { actorOf, body, editorDeps } from './schema_deps.js';
import { tableStats } from '../../console/stats.js';
import { dependentsOf } from '../../schema/dependents.js';
import { fmt } from '../../console/format.js';
import { tableTab, tableViewLocals } from './console.js';

/** Everything the tables page and its panel need. */
async function tablesLocals(ctx: AppContext) {
  const [tables, trashed] = await Promise.all([listTables(ctx.pool), listTables(ctx.pool, { trashed: true })]);
  // Rows, size on disk and the last change, for the console (server/console/stats.ts).
  const stats = await tableStats(ctx.pool, ctx.config.dataSchema, tables);
  return { title: 'Tables', section: 'tables', tables, trashed, stats, fmt };
}

/** Everything the table page and its field panel need. */
export async function tableLocals(ctx: AppContext, tableId: number, extra: Record<string, unknown> = {}) {
  const table = await getTable(ctx.pool, tableId);
  const [fields, trashedFields, tables] = await Promise.all([
    listFields(ctx.pool, tableId),
    listFields(ctx.pool, tableId, { trashed: true }),
    listTables(ctx.pool),
  ]);
  const tableIndexes = (await listTableIndexes(ctx.pool, tableId)).map((i) => tableIndexJson(i, [...fields, ...trashedFields]));
  return { title: table.name, section: 'tables', fmt, table, fields, trashedFields, tables, tableIndexes, fieldTypes: allFieldTypes(), colors: COLORS, report: null, ...extra };
}

async function tablesPanel(ctx: AppContext, req: Request, res: Response, status: number, json: unknown, notice?: string) {
  await reply(req, res, { status, json, fragment: 'tables_panel', locals: { ...(await tablesLocals(ctx)), notice } , redirect: '/tables' });
}

async function fieldsPanel(ctx: AppContext, req: Request, res: Response, tableId: number, status: number, json: unknown, notice?: string) {
  await reply(req, res, {
    status,
    json,
    fragment: 'fields_panel',
    locals: await tableLocals(ctx, tableId, { notice }),
    redirect: `/tables/${tableId}?tab=fields`,
  });
}

/**
 * Options as sent: JSON bodies carry them typed; console forms carry inputs for every
 * type (only the chosen type's count) or, from the conversion preview, options_json.
 */
function optionsOf(req: Request, b: Record<string, unknown>, type: unknown): unknown {
  if (typeof b.options_json === 'string') {
    try {
      return JSON.parse(b.options_json);
    } catch {
      throw badRequest('options_json is not valid JSON', 'options');
    }
  }
  if (!req.is('application/x-www-form-urlencoded')) return b.options;
  return formOptionsFor(String(type ?? ''), b.options);
}

/** A form leaves untouched inputs empty: '' means "not changing this" (but for default). */
function blankToUndefined<T extends Record<string, unknown>>(update: T): T {
  const out = { ...update };
  for (const key of ['name', 'column', 'type'] as const) if (out[key] === '') (out as Record<string, unknown>)[key] = undefined;
  return out;
}

function fieldSpec(req: Request, b: Record<string, unknown>): FieldSpec {
  const s = { name: b.name, type: b.type, options: optionsOf(req, b, b.type), column: b.column, not_null: b.not_null, unique: b.unique, indexed: b.indexed, default: b.default };
  // An empty optional input from a form means "not given".
  if (s.column === '') s.column = undefined;
  if (s.default === '') s.default = undefined;
  return s;
}

const listRoute = (path: string, summary: string) =>
  route('get', path, 'viewer', summary, async (ctx, req, res) => {
    const locals = await tablesLocals(ctx);
    await reply(req, res, {
      json: { tables: locals.tables.map((t) => tableJson(t)) },
      page: 'tables',
      fragment: 'tables_panel',
      locals,
    });
  });

export const tableRoutes = [
  listRoute('/', 'the console home: the tables'),
  listRoute('/tables', 'list tables (and, for the console, the trash of tables)'),
  route('post', '/tables', 'admin', 'create a table: name, table_name?, fields?; dry_run=1 answers the plan', async (ctx, req, res) => {
    const b = body(req);
    const fields = b.fields === undefined ? undefined : asArray(b.fields);
    if (b.fields !== undefined && !fields) throw badRequest('fields must be a list of {name, type, options...}', 'fields');
    if (flag(b.dry_run ?? req.query.dry_run, 'dry_run')) {
      // The change itself, up to its last statement, then rolled back: same checks, exact DDL.
      const { statements } = await dryRunStatements(() => createTable({ ...editorDeps(ctx), dryRun: true }, actorOf(req), { name: b.name, table_name: b.table_name, fields: fields as FieldSpec[] | undefined }));
      const plan = planFromStatements(statements, { rows: 0, bytes: 0 }, { newTable: true });
      await reply(req, res, { json: { dry_run: true, plan }, fragment: 'change_plan', locals: { plan } });
      return;
    }
    const { id } = await createTable(editorDeps(ctx), actorOf(req), { name: b.name, table_name: b.table_name, fields: fields as FieldSpec[] | undefined });
    const created = await describeTable(ctx.pool, id);
    res.location(`/tables/${id}`);
    await reply(req, res, { status: 201, json: created, redirect: `/tables/${id}` });
  }),

  route('get', '/tables/:id', 'viewer', 'a table with its fields (the console: its page)', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const locals = await tableLocals(ctx, id);
    const kind = answerKind(req);
    // The page shows one tab (routes/console.ts): the rows (the grid for the query string's
    // filters and sort), the fields, the SQL or the history. htmx asking for ?tab= gets
    // the tabbed view alone; without ?tab= it gets the field panel, as before.
    const tab = kind === 'json' ? undefined : tableTab(req.query.tab);
    if (kind === 'page' || tab) Object.assign(locals, await tableViewLocals(ctx, req, locals.table, tab ?? 'rows'));
    await reply(req, res, { json: tableJson(locals.table, locals.fields), page: 'table', fragment: tab ? 'tabs' : 'fields_panel', locals });
  }),

  route('patch', '/tables/:id', 'admin', 'rename a table: name (the display name only), table_name? (the PostgreSQL table too); dry_run=1 answers the plan', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const b = body(req);
    if (flag(b.dry_run ?? req.query.dry_run, 'dry_run')) {
      const table = await getLiveTable(ctx.pool, id);
      const { statements } = await dryRunStatements(() => renameTable({ ...editorDeps(ctx), dryRun: true }, actorOf(req), id, { name: b.name, table_name: b.table_name }));
      const plan = planFromStatements(statements, await tableSize(ctx.pool, table.table_oid), { newTable: false });
      await reply(req, res, { json: { dry_run: true, plan }, fragment: 'change_plan', locals: { plan } });
      return;
    }
    const { version } = await renameTable(editorDeps(ctx), actorOf(req), id, { name: b.name, table_name: b.table_name });
    const json = { ...(await describeTable(ctx.pool, id)), version };
    if (req.get('HX-Request') === 'true' && req.get('HX-Target') === 'tables-panel') return tablesPanel(ctx, req, res, 200, json, 'Table renamed.');
    await fieldsPanel(ctx, req, res, id, 200, json, 'Table renamed.');
  }),

  route('get', '/tables/:id/dependents', 'admin', 'what depends on the table\'s PostgreSQL name (views, foreign keys, functions), shown before a physical rename', async (ctx, req, res) => {
    const table = await getTable(ctx.pool, idParam(req.params.id));
    const dependents = table.table_oid === null ? { views: [], foreign_keys: [], functions: [] } : await dependentsOf(ctx.pool, Number(table.table_oid));
    await reply(req, res, { json: { table_name: table.table_name, ...dependents }, fragment: 'dependents', locals: { what: `table ${table.table_name}`, dependents } });
  }),

  route('get', '/tables/:id/fields/:fid/dependents', 'admin', 'what depends on the field\'s column name (views, foreign keys, functions), shown before a physical rename', async (ctx, req, res) => {
    const table = await getTable(ctx.pool, idParam(req.params.id));
    const field = await getField(ctx.pool, table.id, idParam(req.params.fid, 'fid'));
    const dependents = table.table_oid === null || field.attnum === null ? { views: [], foreign_keys: [], functions: [] } : await dependentsOf(ctx.pool, Number(table.table_oid), field.attnum);
    await reply(req, res, { json: { column: field.column_name, ...dependents }, fragment: 'dependents', locals: { what: `column ${field.column_name}`, dependents } });
  }),

  route('delete', '/tables/:id', 'admin', 'trash a table (soft: it moves to the trash schema)', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const { version } = await trashTable(editorDeps(ctx), actorOf(req), id);
    const json = { ...tableJson(await getTable(ctx.pool, id)), version };
    await tablesPanel(ctx, req, res, 200, json, `Table moved to the trash.`);
  }),

  route('post', '/tables/:id/restore', 'admin', 'restore a trashed table: name?, table_name? to restore under new names', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const b = body(req);
    const { version } = await restoreTable(editorDeps(ctx), actorOf(req), id, { name: b.name, table_name: b.table_name });
    await tablesPanel(ctx, req, res, 200, { ...(await describeTable(ctx.pool, id)), version }, 'Table restored.');
  }),

  route('get', '/tables/:id/fields', 'viewer', 'the fields of a table (trashed=1: its trashed fields)', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    await getTable(ctx.pool, id);
    const trashed = flag(req.query.trashed, 'trashed') ?? false;
    res.json({ fields: (await listFields(ctx.pool, id, { trashed })).map(fieldJson) });
  }),

  route('post', '/tables/:id/fields', 'admin', 'add a field: name, type, options, column?, not_null?, unique?, indexed?, default?; dry_run=1 answers the plan', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const b = body(req);
    if (flag(b.dry_run ?? req.query.dry_run, 'dry_run')) {
      const plan = await planAddField(ctx.pool, editorDeps(ctx), await getLiveTable(ctx.pool, id), fieldSpec(req, b));
      await reply(req, res, { json: { dry_run: true, plan }, fragment: 'change_plan', locals: { plan } });
      return;
    }
    const kind = answerKind(req);
    const added = await addField(editorDeps(ctx), actorOf(req), id, fieldSpec(req, b)).catch(async (err: unknown) => {
      if (!(err instanceof AppError) || err.status >= 500 || err.status === 404 || kind === 'json') throw err;
      // The form again, with the message and what was typed (a form has nowhere else to go).
      const locals = await tableLocals(ctx, id, { addFieldError: { message: err.message, field: err.field }, addFieldValues: b });
      res.vary('Accept').vary('HX-Request');
      if (kind === 'fragment') {
        res.status(err.status).type('html').send(await renderView('partials/fields_panel', { ...res.locals, ...locals }));
      } else {
        Object.assign(locals, await tableViewLocals(ctx, req, locals.table, 'fields'));
        res.status(err.status).type('html').send(await renderView('pages/table', { ...res.locals, ...locals }, { layout: true }));
      }
      return undefined;
    });
    if (!added) return;
    const { field, version } = added;
    res.location(`/tables/${id}/fields/${field.id}`);
    await fieldsPanel(ctx, req, res, id, 201, { ...fieldJson(field), version }, `Field "${field.name}" added.`);
  }),

  route('post', '/tables/:id/fields/order', 'admin', 'reorder fields: order = [field ids, first to last]', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const b = body(req);
    const order = asArray(b.order) ?? (typeof b.order === 'string' ? b.order.split(',').map((s) => s.trim()).filter(Boolean) : b.order);
    const { order: final, version } = await reorderFields(editorDeps(ctx), actorOf(req), id, order);
    await fieldsPanel(ctx, req, res, id, 200, { order: final, version }, 'Fields reordered.');
  }),

  route('get', '/tables/:id/fields/:fid', 'viewer', 'one field', async (ctx, req, res) => {
    res.json(fieldJson(await getField(ctx.pool, idParam(req.params.id), idParam(req.params.fid, 'fid'))));
  }),

  route(
    'patch',
    '/tables/:id/fields/:fid',
    'admin',
    'change a field: name?, column?, type?, options?, not_null?, unique?, indexed?, default?; dry_run=1 answers the plan (and what a type change would lose; plan_only=1: the plan alone); confirm_loss=1 accepts a loss; online=1|0 forces the online path or one transaction',
    async (ctx, req, res) => {
      const id = idParam(req.params.id);
      const fid = idParam(req.params.fid, 'fid');
      const b = body(req);
      const type = b.type !== undefined && b.type !== '' ? b.type : (await getField(ctx.pool, id, fid)).type;
      const update = { name: b.name, column: b.column, type: b.type, options: optionsOf(req, b, type), not_null: b.not_null, unique: b.unique, indexed: b.indexed, default: b.default, confirm_loss: b.confirm_loss };
      const online = flag(b.online ?? req.query.online, 'online');
      if (flag(b.dry_run ?? req.query.dry_run, 'dry_run')) {
        const current = await getField(ctx.pool, id, fid);
        const typeChanging = changesTypeOrOptions(current, update);
        // plan_only=1 (the console's plan beside Save): the plan alone, without reading the rows
        const planOnly = flag(b.plan_only ?? req.query.plan_only, 'plan_only') ?? false;
        const report = typeChanging && !planOnly ? await previewFieldChange(editorDeps(ctx), id, fid, update) : null;
        const plan = await planFieldUpdate(ctx.pool, { ...editorDeps(ctx), jobThresholdRows: ctx.config.jobThresholdRows }, await getLiveTable(ctx.pool, id), current, blankToUndefined(update), online, report ?? undefined);
        if (!report) {
          await reply(req, res, { json: { dry_run: true, plan }, fragment: 'change_plan', locals: { plan } });
          return;
        }
        await reply(req, res, {
          json: { dry_run: true, ...report, plan },
          fragment: 'conversion_report',
          page: 'table',
          locals: await tableLocals(ctx, id, { report, plan, reportField: await getField(ctx.pool, id, fid), pending: update }),
        });
        return;
      }
      // A form leaves untouched inputs empty: '' means "not changing this", not "clear it",
      // except for default, where '' drops the default.
      for (const key of ['name', 'column', 'type'] as const) if (update[key] === '') update[key] = undefined;
      // One change that scans or rewrites, on a big table (or online=1): the online path, a
      // resumable job whose steps each hold a lock briefly (server/schema/online/).
      const current = await getField(ctx.pool, id, fid);
      // An index over several fields is on the column itself: a rewrite would leave it on the old one.
      if (typeChangeOf(current, update) === 'rewrite') {
        const indexes = await indexesOfField(ctx.pool, id, fid);
        if (indexes.length) throw conflict('in_table_index', `"${current.name}" is part of the index "${indexes[0]}" over several fields; drop that index before changing the field's type, then make it again`, 'type', { indexes });
      }
      const kind = onlineKindOf(current, update, typeChangeOf(current, update));
      // what a DBA made keeps a type change from running online (online/obstacles.ts):
      // refused when asked for (online=1), else the one-transaction path (as its plan says)
      const obstacles = kind === 'change_type' ? await onlineTypeChangeObstacles(ctx.pool, ctx.config.dataSchema, await getLiveTable(ctx.pool, id), current) : [];
      if (obstacles.length && online === true) throw onlineObstaclesConflict(current, obstacles);
      if (kind && !obstacles.length) {
        const rows = await estimatedRows(ctx.pool, id);
        if (chooseOnline(rows, ctx.config.jobThresholdRows, online).online) {
          // What the job would refuse only later, as a 400 naming the input, now: a queued job
          // that fails at once answered 202 to a request that could never work.
          if (update.type !== undefined && typeof update.type !== 'string') throw badRequest('type must be a field type name', 'type');
          if (update.type !== undefined) assertConvertible(current.type, fieldType(String(update.type)).name);
          flag(update.confirm_loss, 'confirm_loss');
          if (kind === 'change_type' && (update.type ?? current.type) === 'link') {
            const options = normaliseOptions(fieldType('link'), update.options, current.type === 'link' ? current.options : undefined);
            await sqlEnv(ctx.pool, editorDeps(ctx), [{ type: 'link', options }]);
          }
          if (current.trashed_at) throw conflict('trashed', `field "${current.name}" is in the trash; restore it first`);
          if (current.read_only) throw conflict('read_only', `field "${current.name}" was adopted read-only`);
          if (kind === 'change_type') await assertFormulasAllowTypeChange(ctx.pool, await getLiveTable(ctx.pool, id), current, update);
          if (kind === 'set_unique' && current.type === 'json') throw badRequest('a JSON field cannot be unique', 'unique');
          // batch_pages: the copy's range in pages, fixed instead of adapting to its aim (tests
          // that catch the copy mid-way; backfill.ts): it reached no job before, silently
          const batchPages = b.batch_pages ?? req.query.batch_pages;
          if (batchPages !== undefined && !((typeof batchPages === 'number' || (typeof batchPages === 'string' && /^\d+$/.test(batchPages))) && Number.isInteger(Number(batchPages)) && Number(batchPages) >= 1 && Number(batchPages) <= 4096)) {
            throw badRequest('batch_pages must be a whole number of pages from 1 to 4096', 'batch_pages');
          }
          const payload = batchPages === undefined ? update : { ...update, batch_pages: Number(batchPages) };
          const job = await acceptOnlineChange(editorDeps(ctx), actorOf(req), { tableId: id, field: current, kind, update: payload, total: rows }, (tx, onlineChangeId) =>
            enqueueJob(tx, { kind: ONLINE_CHANGE, tableId: id, payload: { kind, fieldId: fid, onlineChangeId }, actor: actorOf(req).name, total: rows }),
          );
          await answerQueued(ctx, req, res, job);
          return;
        }
      }
      // Converting a big table's column is long work: a job, with its progress at /jobs/:id.
      if (changesTypeOrOptions(await getField(ctx.pool, id, fid), update)) {
        const rows = await estimatedRows(ctx.pool, id);
        if (flag(b.async ?? req.query.async, 'async') ?? rows > ctx.config.jobThresholdRows) {
          if (update.type !== undefined) fieldType(String(update.type));
          const job = await enqueueJob(ctx.pool, { kind: CHANGE_FIELD, tableId: id, payload: { tableId: id, fieldId: fid, update }, actor: actorOf(req).name, total: rows });
          await answerQueued(ctx, req, res, job);
          return;
        }
      }
      let saved: Awaited<ReturnType<typeof updateField>>;
      try {
        saved = await updateField(editorDeps(ctx), actorOf(req), id, fid, update);
      } catch (err) {
        // A Save that would lose values: the console shows the loss report beside the form
        // that asked, with "Convert anyway" (scripts keep the 422 and its report).
        if (!(err instanceof AppError) || err.code !== 'lossy_conversion' || answerKind(req) === 'json' || !err.details) throw err;
        if (answerKind(req) === 'fragment') {
          res.set('HX-Retarget', `#f${fid}-report`);
          res.set('HX-Reswap', 'innerHTML');
        }
        const reportField = await getField(ctx.pool, id, fid);
        await reply(req, res, { status: 422, json: err.toJSON(), fragment: 'conversion_report', page: 'table', locals: await tableLocals(ctx, id, { report: err.details, reportField, pending: update, lossRefused: err.message.replace(/; send confirm_loss=1 to convert anyway/, '').replace(/, or send confirm_loss=1 to drop it with the change$/, '') }) });
        return;
      }
      const { field, changes, version } = saved;
      await fieldsPanel(ctx, req, res, id, 200, { ...fieldJson(field), version, changes }, `Field "${field.name}" saved.`);
    },
  ),

  route('delete', '/tables/:id/fields/:fid', 'admin', 'trash a field (soft: the column is kept under a parked name)', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const fid = idParam(req.params.fid, 'fid');
    const { version } = await trashField(editorDeps(ctx), actorOf(req), id, fid);
    await fieldsPanel(ctx, req, res, id, 200, { ...fieldJson(await getField(ctx.pool, id, fid)), version }, 'Field moved to the trash.');
  }),

  route('post', '/tables/:id/fields/:fid/restore', 'admin', 'restore a trashed field: name?, column? to restore under new names', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const fid = idParam(req.params.fid, 'fid');
    const b = body(req);
    const { warnings, version } = await restoreField(editorDeps(ctx), actorOf(req), id, fid, { name: b.name, column: b.column });
    const field = await getField(ctx.pool, id, fid);
    await fieldsPanel(ctx, req, res, id, 200, { ...fieldJson(field), version, warnings }, warnings.length ? `Field restored; ${warnings.join('; ')}.` : 'Field restored.');
  }),
];
