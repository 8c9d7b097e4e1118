// Root hooks for the whole mocha run (loaded first through .mocharc.json "file").
import { assertNothingLeaked } from './helpers/app.js';
import { setUpServer, tearDownServer } from './helpers/db.js';

before(async function () {
  this.timeout(120_000);
  await setUpServer();
});

after(async function () {
  this.timeout(60_000);
  try {
    assertNothingLeaked('the test run');
  } finally {
    await tearDownServer();
  }
});
