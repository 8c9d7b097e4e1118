// Security headers (helmet). The Content-Security-Policy allows scripts and styles from
// this server only: no inline script, no inline style, no eval, nothing from a CDN.
import helmet from 'helmet';
import type { RequestHandler } from 'express';

export function securityHeaders(): RequestHandler {
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
