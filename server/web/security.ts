// Security headers (helmet). The Content-Security-Policy allows scripts and styles from
// this server only: no inline script, no inline style, no eval, nothing from a CDN.
import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * The headers are the same for every response (no nonce): helmet is asked for them once,
 * at start, and each response gets the list as it is. (helmet's middleware builds the
 * Content-Security-Policy text on every request: a few per cent of a row API request's CPU.)
 */
export function securityHeaders(): RequestHandler {
  const { set, removed } = headersOf(helmetMiddleware());
  return (_req, res, next) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}

/** What a middleware sets on (and removes from) a response; it must do so synchronously, as helmet does. */
function headersOf(middleware: RequestHandler): { set: Array<[string, string]>; removed: string[] } {
  const set = new Map<string, string>();
  const removed = new Set<string>();
  const res = {
    setHeader: (name: string, value: unknown) => void set.set(name, String(value)),
    removeHeader: (name: string) => void (set.delete(name), removed.add(name)),
  };
  let called = false;
  middleware({} as never, res as never, () => {
    called = true;
  });
  if (!called) throw new Error('security headers: helmet did not finish synchronously');
  return { set: [...set], removed: [...removed] };
}

function helmetMiddleware(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        objectSrc: ["'none'"],
        // no upgrade-insecure-requests: the console is often served over plain HTTP on
        // 127.0.0.1 or a LAN address, where upgrading would break every asset.
      },
    },
    // Also over plain HTTP browsers ignore HSTS; behind TLS it is what we want.
    strictTransportSecurity: { maxAge: 15552000, includeSubDomains: false },
    referrerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
  });
}
