// The usual setup of the row history tests: a fresh database, an app on it (no drift
// check, no scheduled cleanup) and a direct SQL connection, as a DBA in psql would have.
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { QUIET } from '../introspect/lib.js';

export interface HistorySetup {
  db: TestDatabase;
  app: TestApp;
  sql: Sql;
}

/** For the enclosing describe: `started` gets the three once they are up; they go in order after it. */
export function useAppAndSql(started: (s: HistorySetup) => void | Promise<void>, env: Record<string, string> = {}): void {
  let sql: Sql | undefined;
  // Registered first, so it runs before useApp's after hook drops the database.
  after(async () => {
    await sql?.end();
  });
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s), { ...QUIET, ...env });
  before(async () => {
    sql = await Sql.connect(db.url);
    await started({ db, app, sql });
  });
}
