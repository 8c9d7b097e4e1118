// The notification bus: one LISTEN connection per instance, and what keeps it honest.
//
// Three things bound how long an instance can serve a stale model:
// 1. LISTEN on `tablewright_schema`: the schema editor NOTIFYs inside its transaction, so a
//    change is heard right after it commits and never when it rolls back.
// 2. A self-ping: every ping interval the bus NOTIFYs `tablewright_ping` through the *pool*
//    and expects it back on the *listener*. That proves the whole path (another session's
//    commit -> the server's notify queue -> our socket -> our handler), which a query on
//    the listener itself does not: a half-open TCP connection answers nothing and errors
//    nothing. A ping that does not come back within the timeout counts as a dead listener.
// 3. A poll of tablewright.schema_state.version through the pool (one row, one query per
//    interval), independent of the listener: when it moves, everything is flushed.
//
// Whenever notifications may have been missed (the connection was lost, or has just been
// re-established) the bus emits a flush: subscribers drop everything they cached.
//
// API tokens have no version to poll: a revocation must reach every instance before its
// sender answers. `tablewright_auth` carries it (sent in the revoking statement) and each
// instance answers on `tablewright_auth_ack` once its subscribers have dropped their
// cached tokens; confirmAuthChange waits for every listener that pg_stat_activity shows.
//
// pg-listen owns the connection and the LISTEN/notification plumbing; its own reconnect is
// switched off (retryLimit 1: a lost connection is reported as an 'error' at once) because
// it cannot be cancelled by close() and gives up for good after its retry timeout. This
// module reconnects instead: exponential backoff with jitter, forever, until stop().
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import pgListen, { type Subscriber } from 'pg-listen';
import { describeUrl, type Logger } from '../log.js';
import {
  parseAuthAck,
  parseAuthChange,
  parseDdl,
  parsePing,
  parseRowsChange,
  parseSchemaChange,
  type AuthChange,
  type RowsChange,
  type SchemaChange,
} from './payload.js';

export type { AuthChange, RowsChange, SchemaChange } from './payload.js';

import { AUTH_ACK_CHANNEL, AUTH_CHANNEL, DDL_CHANNEL, LISTENER_APPLICATION_NAME, PING_CHANNEL, ROWS_CHANNEL, SCHEMA_CHANNEL } from './channels.js';
import { confirmAuthChange as confirmEverywhere, type AuthConfirmation } from './auth_confirm.js';

export * from './channels.js';
export type { AuthConfirmation } from './auth_confirm.js';

export type FlushReason =
  /** the LISTEN connection died (error, termination, or a ping that did not come back) */
  | 'listener-lost'
  /** LISTEN is back after a loss: anything committed while it was down went unheard */
  | 'listener-reconnected'
  /** tablewright.schema_state.version moved since the previous poll */
  | 'schema-version-changed'
  /** a notification on the schema channel that cannot be read: some table changed */
  | 'unreadable-notification';

export interface FlushEvent {
  reason: FlushReason;
}

export interface DdlEvent {
  /** the parsed JSON payload, or the raw text when it is not JSON */
  payload: unknown;
  /** the backend pid of the session that sent it */
  processId: number;
}

export interface BusOptions {
  /** the instance's pool: sends the pings and reads the schema version */
  pool: Pick<pg.Pool, 'query'>;
  log: Logger;
  /** LISTEN_DATABASE_URL (a direct connection: LISTEN does not work through transaction pooling) */
  listenUrl: string;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  schemaPollIntervalMs: number;
  /** how long one connection attempt (connect + LISTEN) may take */
  connectTimeoutMs: number;
  /** defaults to a random 8-hex-digit id */
  instanceId?: string;
  /** reconnect backoff: the first retry waits `min`, each next one twice as long, up to `max` */
  reconnectDelayMs?: { min: number; max: number };
}

export interface BusStats {
  instanceId: string;
  connected: boolean;
  /** how many listener connections have been opened (1 + reconnects) */
  connections: number;
  losses: number;
  pingsSent: number;
  pingsReceived: number;
  missedPings: number;
  /** the last ping's round trip: pool NOTIFY commit -> received on the listener */
  lastPingMs: number | undefined;
  /** the last schema_state.version read; a string (bigint) */
  schemaVersion: string | undefined;
  pollErrors: number;
  notifications: Record<string, number>;
  flushes: Record<FlushReason, number>;
}

export interface Bus {
  readonly instanceId: string;
  /** Connects and LISTENs (throws when the first connection fails), reads the schema version, starts the timers. */
  start(): Promise<void>;
  /** Stops the timers and closes the listener; safe to call twice or after a failed start. */
  stop(): Promise<void>;
  /** A committed schema change of one table. Returns an unsubscribe function. */
  onSchemaChange(fn: (change: SchemaChange) => void): () => void;
  /** Everything cached may be stale: drop it all. Returns an unsubscribe function. */
  onFlush(fn: (event: FlushEvent) => void): () => void;
  /** An event from the DDL event trigger. Returns an unsubscribe function. */
  onDdl(fn: (event: DdlEvent) => void): () => void;
  /** Rows of a table were written (by any instance). Returns an unsubscribe function. */
  onRows(fn: (event: RowsChange) => void): () => void;
  /**
   * A committed change to API tokens (any instance, or the CLI). Subscribers must drop what
   * they cached synchronously: the bus confirms to the sender right after they return.
   * Returns an unsubscribe function.
   */
  onAuthChange(fn: (change: AuthChange) => void): () => void;
  /**
   * Runs `change`, which must NOTIFY AUTH_CHANNEL with this nonce as it commits, then waits
   * until every instance that was listening before it has confirmed (its subscribers ran),
   * for at most `timeoutMs` (default: ping interval + ping timeout, by which time an
   * instance whose listener is dead has found out by its ping and flushed). Answers the
   * change's result and the instances that did not confirm in time.
   */
  confirmAuthChange<T>(change: (nonce: string) => Promise<T>, timeoutMs?: number): Promise<AuthConfirmation<T>>;
  /** True while a LISTEN connection is established (and not yet found dead). */
  isConnected(): boolean;
  stats(): BusStats;
}

interface Generation {
  id: number;
  subscriber: Subscriber;
  /** the raw socket under the pg client: destroyed to drop a connection that may be half-open */
  socket: net.Socket | undefined;
  retired: boolean;
}

interface Notification {
  channel: string;
  payload?: string;
  processId: number;
}

const CHANNELS = [SCHEMA_CHANNEL, DDL_CHANNEL, PING_CHANNEL, ROWS_CHANNEL, AUTH_CHANNEL, AUTH_ACK_CHANNEL];

// pg-listen is CommonJS whose module.exports is the function and also carries it as
// `.default`; TypeScript (NodeNext) types the default import as the whole module.
const createSubscriber = pgListen.default;

export function createBus(opts: BusOptions): Bus {
  const instanceId = opts.instanceId ?? randomBytes(4).toString('hex');
  const applicationName = `${LISTENER_APPLICATION_NAME}:${instanceId}`.slice(0, 63);
  const log = opts.log.child({ component: 'bus', instanceId });
  const backoff = opts.reconnectDelayMs ?? { min: 100, max: 5000 };

  const schemaSubscribers = new Set<(change: SchemaChange) => void>();
  const flushSubscribers = new Set<(event: FlushEvent) => void>();
  const ddlSubscribers = new Set<(event: DdlEvent) => void>();
  const rowSubscribers = new Set<(event: RowsChange) => void>();
  const authSubscribers = new Set<(change: AuthChange) => void>();
  /** nonce -> what to do with an instance's confirmation of that auth change */
  const authAckWaiters = new Map<string, (instance: string) => void>();

  let started = false;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  let current: Generation | undefined;
  let opening: Generation | undefined;
  let generations = 0;
  let reconnecting: Promise<void> | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let pingRun: Promise<void> | undefined;
  let pollRun: Promise<void> | undefined;
  let pingSeq = 0;
  let lastVersion: string | undefined;
  // The highest schema_state.version this listener has heard in a notification (or read
  // as the baseline). The poll flushes only when the database is ahead of it: a change
  // whose notification was missed. Heard changes already evicted their own models.
  let heardVersion = 0;
  const pendingPings = new Map<number, () => void>();
  // Every sleep registers its waker here, so that stop() ends all of them at once.
  const sleepers = new Set<() => void>();

  const stats: BusStats = {
    instanceId,
    connected: false,
    connections: 0,
    losses: 0,
    pingsSent: 0,
    pingsReceived: 0,
    missedPings: 0,
    lastPingMs: undefined,
    schemaVersion: undefined,
    pollErrors: 0,
    notifications: Object.fromEntries(CHANNELS.map((c) => [c, 0])),
    flushes: { 'listener-lost': 0, 'listener-reconnected': 0, 'schema-version-changed': 0, 'unreadable-notification': 0 },
  };

  function sleep(ms: number): { done: Promise<void>; cancel(): void } {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), ms);
      wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      sleepers.add(wake);
    });
    return { done, cancel: () => wake() };
  }

  function emit<T>(subscribers: Set<(v: T) => void>, value: T, what: string): void {
    for (const fn of subscribers) {
      try {
        fn(value);
      } catch (err) {
        log.error({ err }, `a ${what} subscriber threw`);
      }
    }
  }

  function flush(reason: FlushReason): void {
    stats.flushes[reason] += 1;
    log.info({ reason }, 'flush: cached models may be stale');
    emit(flushSubscribers, { reason }, 'flush');
  }

  function receive(gen: Generation, n: Notification): void {
    // A generation still being opened may already hear notifications; a retired one is gone.
    if (gen.retired) return;
    stats.notifications[n.channel] = (stats.notifications[n.channel] ?? 0) + 1;
    const text = n.payload ?? '';
    if (n.channel === PING_CHANNEL) {
      const ping = parsePing(text);
      if (ping?.instance === instanceId) pendingPings.get(ping.seq)?.();
    } else if (n.channel === SCHEMA_CHANNEL) {
      const change = parseSchemaChange(text);
      if (!change) {
        log.warn({ channel: n.channel, payload: text.slice(0, 500), processId: n.processId }, 'unreadable schema notification');
        flush('unreadable-notification');
        return;
      }
      if (change.globalVersion !== undefined) heardVersion = Math.max(heardVersion, change.globalVersion);
      log.debug({ ...change }, 'schema change notification');
      emit(schemaSubscribers, change, 'schema change');
    } else if (n.channel === ROWS_CHANNEL) {
      const change = parseRowsChange(text);
      if (change) emit(rowSubscribers, change, 'rows');
    } else if (n.channel === AUTH_CHANNEL) {
      // Unreadable still means "some token changed": subscribers drop everything anyway.
      const change = parseAuthChange(text) ?? { op: 'unreadable' };
      log.debug({ ...change, processId: n.processId }, 'auth change notification');
      emit(authSubscribers, change, 'auth change');
      if (change.nonce) confirmAuth(change.nonce);
    } else if (n.channel === AUTH_ACK_CHANNEL) {
      const ack = parseAuthAck(text);
      if (ack) authAckWaiters.get(ack.nonce)?.(ack.instance);
    } else if (n.channel === DDL_CHANNEL) {
      log.debug({ processId: n.processId }, 'ddl notification');
      emit(ddlSubscribers, { payload: parseDdl(text), processId: n.processId }, 'ddl');
    }
  }

  /** Tells the sender of an auth change that this instance has acted on it. */
  function confirmAuth(nonce: string): void {
    if (stopped) return;
    opts.pool
      .query(/* sql */ 'SELECT pg_notify($1, $2)', [AUTH_ACK_CHANNEL, JSON.stringify({ instance: instanceId, nonce })])
      .catch((err: unknown) => log.warn({ err, nonce }, 'could not confirm an auth change'));
  }

  function confirmAuthChange<T>(change: (nonce: string) => Promise<T>, timeoutMs = opts.pingIntervalMs + opts.pingTimeoutMs): Promise<AuthConfirmation<T>> {
    const onAck = (nonce: string, fn: (instance: string) => void) => {
      authAckWaiters.set(nonce, fn);
      return () => authAckWaiters.delete(nonce);
    };
    return confirmEverywhere({ pool: opts.pool, onAck, timeoutMs, log, wait: sleep }, change);
  }

  /** Closes a connection for good. Not graceful unless asked: the socket may be half-open. */
  async function retire(gen: Generation, graceful = false): Promise<void> {
    if (gen.retired) return;
    gen.retired = true;
    // close() first: it tells pg-listen not to react to the end of the connection.
    const closed = gen.subscriber.close().catch(() => undefined);
    if (graceful) {
      const grace = sleep(500);
      await Promise.race([closed, grace.done]);
      grace.cancel();
    }
    gen.socket?.destroy();
    await closed;
  }

  /** One connection attempt: connect, LISTEN on every channel, within connectTimeoutMs. */
  async function open(): Promise<Generation> {
    const gen: Generation = { id: ++generations, subscriber: undefined as unknown as Subscriber, socket: undefined, retired: false };
    gen.subscriber = createSubscriber(
      {
        connectionString: opts.listenUrl,
        application_name: applicationName,
        connectionTimeoutMillis: opts.connectTimeoutMs,
        keepAlive: true,
        // Our own socket, so that a connection found dead can be dropped at once
        // (pg's end() would wait for a goodbye that a half-open connection never sends).
        // Its 'close' is heard before pg's, so a lost connection is reported as such,
        // not as pg-listen's generic "reconnecting failed".
        stream: () => {
          const socket = new net.Socket();
          socket.once('close', () => lost(gen, 'connection closed'));
          gen.socket = socket;
          return socket;
        },
      },
      { paranoidChecking: false, retryLimit: 1, parse: (text: string) => text },
    );
    // With retryLimit 1, pg-listen reports any failure of the connection (the server's FATAL
    // after pg_terminate_backend or a restart, a protocol error) as one generic error whose
    // message ("reconnecting ... failed") would mislead the log: name the cause instead.
    gen.subscriber.events.on('error', (err) =>
      /^Re-initializing the PostgreSQL notification client/.test(err.message)
        ? lost(gen, 'connection error (terminated by the server, server restart, or protocol error)')
        : lost(gen, 'connection error', err),
    );
    gen.subscriber.events.on('notification', (n) => receive(gen, n as Notification));
    opening = gen;
    const deadline = setTimeout(() => gen.socket?.destroy(new Error(`no LISTEN within ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
    try {
      await gen.subscriber.connect();
      for (const channel of CHANNELS) await gen.subscriber.listenTo(channel);
      if (stopped) throw new Error('the bus was stopped while connecting');
      stats.connections += 1;
      return gen;
    } catch (err) {
      await retire(gen);
      throw err;
    } finally {
      clearTimeout(deadline);
      if (opening === gen) opening = undefined;
    }
  }

  function lost(gen: Generation, cause: string, err?: Error): void {
    if (stopped || gen.retired || gen !== current) return;
    current = undefined;
    stats.losses += 1;
    log.warn({ err, cause, connection: gen.id }, 'listener connection lost; reconnecting');
    void retire(gen);
    // Changes may already have gone unheard, and more will until LISTEN is back.
    flush('listener-lost');
    reconnecting ??= reconnect().finally(() => (reconnecting = undefined));
  }

  async function reconnect(): Promise<void> {
    const downSince = Date.now();
    for (let attempt = 1; !stopped; attempt++) {
      if (attempt > 1) {
        const base = Math.min(backoff.max, backoff.min * 2 ** (attempt - 2));
        await sleep(Math.round(base * (0.8 + Math.random() * 0.4))).done;
        if (stopped) return;
      }
      try {
        current = await open();
      } catch (err) {
        if (stopped) return;
        log.warn({ err, attempt, listen: describeUrl(opts.listenUrl) }, 'listener reconnect attempt failed');
        continue;
      }
      log.info({ attempt, downMs: Date.now() - downSince, connection: current.id }, 'listener reconnected');
      flush('listener-reconnected');
      return;
    }
  }

  /** NOTIFY through the pool, wait for it on the listener; a ping that does not return kills the listener. */
  async function ping(): Promise<void> {
    const gen = current;
    if (!gen || stopped) return;
    const seq = ++pingSeq;
    const pong = new Promise<void>((resolve) => pendingPings.set(seq, resolve));
    let received = false;
    void pong.then(() => (received = true));
    const sentAt = performance.now();
    try {
      await opts.pool.query(/* sql */ 'SELECT pg_notify($1, $2)', [PING_CHANNEL, JSON.stringify({ instance: instanceId, seq })]);
      stats.pingsSent += 1;
      // The timeout runs from the commit of the NOTIFY: a busy pool is not a dead listener.
      const timeout = sleep(opts.pingTimeoutMs);
      await Promise.race([pong, timeout.done]);
      timeout.cancel();
    } catch (err) {
      log.warn({ err }, 'could not send the listener ping through the pool');
      return;
    } finally {
      pendingPings.delete(seq);
    }
    if (received) {
      stats.pingsReceived += 1;
      stats.lastPingMs = Math.round((performance.now() - sentAt) * 10) / 10;
      return;
    }
    if (stopped || gen !== current) return;
    stats.missedPings += 1;
    if (stats.pingsReceived === 0) {
      // Never heard a single ping: more likely a setup problem than a network one.
      log.error(
        { seq, timeoutMs: opts.pingTimeoutMs, connection: gen.id, listen: describeUrl(opts.listenUrl) },
        'listener ping not received, and none ever was: does LISTEN_DATABASE_URL reach the same database as DATABASE_URL, directly (not through a transaction-pooling PgBouncer)?',
      );
    } else {
      log.warn({ seq, timeoutMs: opts.pingTimeoutMs, connection: gen.id }, 'listener ping not received in time');
    }
    lost(gen, 'ping timeout');
  }

  async function poll(): Promise<void> {
    let version: string | undefined;
    try {
      const { rows } = await opts.pool.query<{ version: string | number }>(/* sql */ 'SELECT version FROM tablewright.schema_state');
      version = rows[0] === undefined ? undefined : String(rows[0].version);
    } catch (err) {
      stats.pollErrors += 1;
      log.warn({ err }, 'could not read the schema version');
      return;
    }
    if (version === undefined) {
      stats.pollErrors += 1;
      log.warn('tablewright.schema_state has no row: schema changes are only heard through LISTEN');
      return;
    }
    stats.schemaVersion = version;
    const previous = lastVersion;
    lastVersion = version;
    if (previous === undefined) {
      heardVersion = Math.max(heardVersion, Number(version));
    } else if (previous !== version && Number(version) > heardVersion) {
      // The notification of a change committed a moment ago may still be on its way: a
      // ping sent now arrives after it (PostgreSQL delivers notifications in commit order).
      // Once the ping is back, a version still unheard was missed: flush. (A ping that does
      // not come back means a dead listener, which flushes by itself.)
      await ping();
      if (stopped || Number(version) <= heardVersion) return;
      log.info({ from: previous, to: version, heard: heardVersion }, 'schema version moved past what the listener heard');
      heardVersion = Number(version);
      flush('schema-version-changed');
    }
  }

  // setTimeout chains rather than setInterval: a slow round never overlaps the next one.
  function schedulePing(): void {
    if (stopped) return;
    pingTimer = setTimeout(() => {
      pingRun = ping().finally(schedulePing);
    }, opts.pingIntervalMs);
  }

  function schedulePoll(): void {
    if (stopped) return;
    pollTimer = setTimeout(() => {
      pollRun = poll().finally(schedulePoll);
    }, opts.schemaPollIntervalMs);
  }

  function subscribe<T>(set: Set<(v: T) => void>, fn: (v: T) => void): () => void {
    set.add(fn);
    return () => set.delete(fn);
  }

  return {
    instanceId,

    async start() {
      if (started) throw new Error('the bus is already started');
      started = true;
      log.info(
        {
          listen: describeUrl(opts.listenUrl),
          applicationName,
          pingIntervalMs: opts.pingIntervalMs,
          pingTimeoutMs: opts.pingTimeoutMs,
          schemaPollIntervalMs: opts.schemaPollIntervalMs,
        },
        'starting the notification bus',
      );
      try {
        current = await open();
      } catch (err) {
        throw new Error(`could not LISTEN on ${describeUrl(opts.listenUrl)}: ${(err as Error).message}`, { cause: err });
      }
      // The baseline version is read after LISTEN is up: a change in between is then
      // either heard or seen by the next poll.
      await poll();
      schedulePing();
      schedulePoll();
    },

    stop() {
      return (stopping ??= (async () => {
        stopped = true;
        clearTimeout(pingTimer);
        clearTimeout(pollTimer);
        for (const wake of [...sleepers]) wake();
        opening?.socket?.destroy();
        await Promise.allSettled([reconnecting, pingRun, pollRun]);
        const gen = current;
        current = undefined;
        if (gen) await retire(gen, true);
        if (started) log.info({ stats: { ...stats, connected: false } }, 'notification bus stopped');
      })());
    },

    onSchemaChange: (fn) => subscribe(schemaSubscribers, fn),
    onFlush: (fn) => subscribe(flushSubscribers, fn),
    onDdl: (fn) => subscribe(ddlSubscribers, fn),
    onRows: (fn) => subscribe(rowSubscribers, fn),
    onAuthChange: (fn) => subscribe(authSubscribers, fn),
    confirmAuthChange,

    isConnected: () => current !== undefined && !stopped,

    stats: () => ({
      ...stats,
      connected: current !== undefined && !stopped,
      notifications: { ...stats.notifications },
      flushes: { ...stats.flushes },
    }),
  };
}
