// One pino logger for the process. Secrets never reach it: connection strings are
// redacted by describeUrl(), and request logging drops headers that carry credentials.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/**
 * fd 1 for the server; commands that print results on stdout log to fd 2.
 *
 * The server's lines are written asynchronously (sonic-boom, sync: false): a request no
 * longer waits on a write(2) to stdout for its log line, and lines logged while a write is
 * under way go out together in the next. Nothing is held back to fill a buffer (a line is
 * on its way as soon as it is logged), and pino writes what is pending synchronously when
 * the process exits (also on a fatal error); only a SIGKILL can lose the lines of the
 * last write in flight. Commands (short, then exit) write synchronously.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, fd: 1 | 2 = 1, sync = true): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'password', 'token'], remove: true },
    ...(config.logFormat === 'pretty'
      ? { transport: { target: 'pino-pretty', options: { destination: fd, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,req,res,responseTime', singleLine: true } } }
      : {}),
  };
  return config.logFormat === 'pretty' ? pino(options) : pino(options, pino.destination({ dest: fd, sync }));
}

/** A connection string fit for a log line: host, port and database, never the password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return '(unparseable url)';
  }
}
