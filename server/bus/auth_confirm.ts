// Waiting until every instance has acted on an auth change (a revocation). API tokens have
// no version to poll, so the sender of a revocation answers only once every instance that
// listens has dropped its cached tokens and said so on AUTH_ACK_CHANNEL. The one rule, used
// by the bus (DELETE /tokens/:id) and by `tablewright token revoke`, which runs no bus and
// listens for the confirmations on a connection of its own (listenForAuthAcks).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ident } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import type { Logger } from '../log.js';
import { AUTH_ACK_CHANNEL, LISTENER_APPLICATION_NAME } from './channels.js';
import { parseAuthAck } from './payload.js';

export interface AuthConfirmation<T> {
  result: T;
  /** instance ids that were listening before the change and did not confirm it in time */
  unconfirmed: string[];
  /** from the change's start to the last confirmation (or the timeout) */
  ms: number;
}

/** Registers what to do with each instance's confirmation of one nonce; returns the unregister. */
export type OnAuthAck = (nonce: string, fn: (instance: string) => void) => () => void;

export interface ConfirmOptions {
  pool: Queryable;
  onAck: OnAuthAck;
  /** the longest to wait for the confirmations once the change has committed */
  timeoutMs: number;
  log: Logger;
  /** a wait that the caller can cut short when it stops (the bus's); a plain timer otherwise */
  wait?: (ms: number) => { done: Promise<void>; cancel(): void };
}

/** The instance ids of every listener connected to this database now. */
export async function listeningInstances(pool: Queryable): Promise<string[]> {
  const prefix = `${LISTENER_APPLICATION_NAME}:`;
  const { rows } = await pool.query<{ instance: string }>(
    /* sql */ `SELECT DISTINCT substr(application_name, length($1) + 1) AS instance
                 FROM pg_stat_activity
                WHERE datname = current_database() AND starts_with(application_name, $1)`,
    [prefix],
  );
  return rows.map((r) => r.instance);
}

function timer(ms: number): { done: Promise<void>; cancel(): void } {
  let cancel!: () => void;
  const done = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    cancel = () => {
      clearTimeout(t);
      resolve();
    };
  });
  return { done, cancel };
}

/**
 * Runs `change`, which must NOTIFY AUTH_CHANNEL with the nonce it is given as it commits,
 * then waits until every instance that was listening before it has confirmed, for at most
 * `timeoutMs`. Answers the change's result and the instances that did not confirm in time.
 */
export async function confirmAuthChange<T>(opts: ConfirmOptions, change: (nonce: string) => Promise<T>): Promise<AuthConfirmation<T>> {
  const nonce = randomBytes(8).toString('hex');
  const startedAt = performance.now();
  const heard = new Set<string>();
  let expected: string[] = [];
  let wake: (() => void) | undefined;
  const allHeard = () => expected.every((i) => heard.has(i));
  // Registered before the change: a quick confirmation must not arrive unheard.
  const unregister = opts.onAck(nonce, (instance) => {
    heard.add(instance);
    if (allHeard()) wake?.();
  });
  try {
    // Read before the change commits: these listeners hear it (or are found dead by their
    // ping). One that connects afterwards belongs to an instance that has just started or
    // has just flushed on reconnect: it holds no token from before the change.
    expected = await listeningInstances(opts.pool);
    const result = await change(nonce);
    if (!allHeard()) {
      const sleep = (opts.wait ?? timer)(opts.timeoutMs);
      await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep.done]);
      sleep.cancel();
    }
    const unconfirmed = expected.filter((i) => !heard.has(i));
    const ms = Math.round((performance.now() - startedAt) * 10) / 10;
    if (unconfirmed.length > 0) {
      opts.log.warn(
        { unconfirmed, timeoutMs: opts.timeoutMs, listening: expected.length },
        'auth change not confirmed by every instance in time (a dead listener is found by its ping, and its instance then flushes)',
      );
    } else {
      opts.log.debug({ instances: expected.length, ms }, 'auth change confirmed by every instance');
    }
    return { result, unconfirmed, ms };
  } finally {
    unregister();
  }
}

/**
 * Confirmations heard on a connection of the caller's own (for a process without a bus):
 * LISTEN on AUTH_ACK_CHANNEL until `close()`. The connection is opened on `listenUrl`
 * (LISTEN_DATABASE_URL): LISTEN through a transaction-pooling PgBouncer hears nothing.
 */
export async function listenForAuthAcks(listenUrl: string, connectTimeoutMs = 5000): Promise<{ onAck: OnAuthAck; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: listenUrl, connectionTimeoutMillis: connectTimeoutMs, application_name: 'tablewright-cli' });
  const waiters = new Map<string, (instance: string) => void>();
  const onNotification = (n: pg.Notification) => {
    if (n.channel !== AUTH_ACK_CHANNEL) return;
    const ack = parseAuthAck(n.payload ?? '');
    if (ack) waiters.get(ack.nonce)?.(ack.instance);
  };
  client.on('notification', onNotification);
  client.on('error', () => undefined); // a lost connection shows as missing confirmations
  try {
    await client.connect();
    await client.query(`LISTEN ${ident(AUTH_ACK_CHANNEL)}`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    onAck(nonce, fn) {
      waiters.set(nonce, fn);
      return () => waiters.delete(nonce);
    },
    async close() {
      client.off('notification', onNotification);
      await client.end().catch(() => undefined);
    },
  };
}
