// Waiting for a job the way a script does: polling GET /jobs/:id until it ends.
import type { TestApp } from './app.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The job's JSON once it is done or failed; throws when it is still going after `ms`. */
export async function waitForJob(app: TestApp, id: number, ms = 15_000): Promise<any> {
  const until = Date.now() + ms;
  for (;;) {
    const res = await app.request('GET', `/jobs/${id}`);
    if (res.body.status === 'done' || res.body.status === 'failed') return res.body;
    if (Date.now() > until) throw new Error(`job ${id} still ${res.body.status} after ${ms} ms`);
    await sleep(50);
  }
}
