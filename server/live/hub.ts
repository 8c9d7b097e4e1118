// Live updates for the console: server-sent events fed by the bus. One LISTEN connection
// per instance (server/bus) fans out here, in process, to every browser watching; an SSE
// connection costs a socket and a closure, never a database connection.
import type { Response } from 'express';
import type { Bus, RowsChange, SchemaChange } from '../bus/index.js';
import type { Logger } from '../log.js';

export interface LiveEvent {
  /** SSE event name: 'schema' or 'rows' */
  type: 'schema' | 'rows';
  tableId: number;
  data: Record<string, unknown>;
}

/** bytes an event stream may have waiting for a slow client before it is dropped */
export const MAX_BUFFERED = 256 * 1024;

interface Client {
  res: Response;
  /** a table id, or undefined for every table (the tables list) */
  tableId: number | undefined;
}

export interface LiveHubOptions {
  log: Logger;
  /** most SSE connections at once; past it a new one answers 503 */
  maxClients: number;
  /** a comment line this often keeps proxies from closing an idle stream */
  heartbeatMs: number;
}

export class LiveHub {
  private readonly clients = new Set<Client>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: LiveHubOptions) {
    this.timer = setInterval(() => this.broadcastRaw(': keep-alive\n\n'), opts.heartbeatMs);
    this.timer.unref();
  }

  /** Feeds the hub from the bus; returns the unsubscribe functions' combination. */
  connect(bus: Bus): () => void {
    const offSchema = bus.onSchemaChange((c: SchemaChange) =>
      this.publish({ type: 'schema', tableId: c.tableId, data: { table_id: c.tableId, version: c.version, op: c.op, actor: c.actor } }),
    );
    const offRows = bus.onRows((c: RowsChange) =>
      this.publish({ type: 'rows', tableId: c.tableId, data: { table_id: c.tableId, op: c.op, actor: c.actor, row_ids: c.rowIds ?? null, request_id: c.requestId ?? null } }),
    );
    return () => {
      offSchema();
      offRows();
    };
  }

  get size(): number {
    return this.clients.size;
  }

  /** Starts an event stream on `res`; false when the hub is full (the caller answers 503). */
  open(res: Response, tableId: number | undefined): boolean {
    if (this.clients.size >= this.opts.maxClients) return false;
    const client: Client = { res, tableId };
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    this.clients.add(client);
    const close = () => this.clients.delete(client);
    res.on('close', close);
    res.on('error', close);
    return true;
  }

  publish(event: LiveEvent): void {
    const frame = `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
    for (const c of this.clients) if (c.tableId === undefined || c.tableId === event.tableId) this.send(c, frame);
  }

  private broadcastRaw(text: string): void {
    for (const c of this.clients) this.send(c, text);
  }

  /**
   * A browser that stops reading would make its events pile up in memory: past
   * MAX_BUFFERED bytes waiting, its stream is ended (EventSource reconnects by itself,
   * and the page it reloads is current).
   */
  private send(c: Client, text: string): void {
    if (c.res.writableLength > MAX_BUFFERED) {
      this.clients.delete(c);
      c.res.destroy();
      this.opts.log.info({ tableId: c.tableId }, 'live stream dropped: the client stopped reading');
      return;
    }
    c.res.write(text);
  }

  /** Ends every stream (shutdown: browsers reconnect to another instance). */
  closeAll(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.res.end();
    this.opts.log.debug({ closed: this.clients.size }, 'live streams closed');
    this.clients.clear();
  }
}
