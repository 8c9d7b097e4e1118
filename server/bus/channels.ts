// The channels the instances talk on, and how their listener connections are named. On
// their own so that helpers outside the bus (server/bus/auth_confirm.ts, the CLI) can use
// them without the bus.
export const SCHEMA_CHANNEL = 'tablewright_schema';
export const DDL_CHANNEL = 'tablewright_ddl';
export const PING_CHANNEL = 'tablewright_ping';
/** Row writes, announced after they commit: consoles showing the table refresh their grid. */
export const ROWS_CHANNEL = 'tablewright_rows';
/**
 * A token was revoked (or something else changed what a token stands for), sent inside the
 * statement that changed it: every instance drops its token cache (server/auth/token_cache.ts).
 */
export const AUTH_CHANNEL = 'tablewright_auth';
/** Each instance's "done" for an auth change that carries a nonce (server/bus/auth_confirm.ts). */
export const AUTH_ACK_CHANNEL = 'tablewright_auth_ack';
/** application_name of every listener connection is this, then ':' and the instance id. */
export const LISTENER_APPLICATION_NAME = 'tablewright-listener';
