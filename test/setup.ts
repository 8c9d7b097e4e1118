// Root hooks for the whole mocha run (loaded first through .mocharc.json "file").
import { assertNothingLeaked } from './helpers/app.js';
import { serverAdminUrl, setUpServer, tearDownServer } from './helpers/db.js';
import { startSharedPgBouncer, stopSharedPgBouncer } from './helpers/pgbouncer.js';

before(async function () {
  this.timeout(120_000);
  await setUpServer();
  await startSharedPgBouncer(serverAdminUrl());
});

after(async function () {
  this.timeout(60_000);
  try {
    assertNothingLeaked('the test run');
  } finally {
    await stopSharedPgBouncer();
    await tearDownServer();
  }
});
