// One pino logger for the process. Secrets never reach it: connection strings are
// redacted by describeUrl(), and request logging drops headers that carry credentials.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** fd 1 for the server; commands that print results on stdout log to fd 2. */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, fd: 1 | 2 = 1): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'password', 'token'], remove: true },
    ...(config.logFormat === 'pretty'
      ? { transport: { target: 'pino-pretty', options: { destination: fd, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,req,res,responseTime', singleLine: true } } }
      : {}),
  };
  return config.logFormat === 'pretty' ? pino(options) : pino(options, pino.destination(fd));
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
