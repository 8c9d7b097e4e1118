// Resolved API tokens, kept per instance for TOKEN_CACHE_TTL_S seconds, so that a script's
// requests do not each pay a database round trip to check the same token.
//
// What must stay true: a revoked token stops working on every instance at once. Hence:
//   - revokeToken NOTIFYs tablewright_auth in its own statement; every instance's bus
//     hears it after the commit and clear() drops the whole cache (revocations are rare;
//     a full clear cannot miss an entry);
//   - a bus flush (listener lost or reconnected: notifications may have gone unheard)
//     clears it too, and while the listener is down the cache is neither read nor filled;
//   - a lookup that started before a clear never stores its result (the epoch), so a read
//     that raced a revocation cannot put the revoked token back;
//   - unknown and revoked tokens are never cached: a token created a moment ago works at
//     once everywhere.
// Entries are keyed by the token's SHA-256 (as stored in the database), never the token.
import crypto from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import type { Caller } from './caller.js';
import { sha256 } from './secret.js';
import { plausibleToken, resolveToken } from './tokens.js';

/** More distinct tokens than this in one TTL is unusual: the oldest entry makes room. */
const MAX_ENTRIES = 10_000;

export interface TokenCacheOptions {
  /** seconds a resolved token is trusted without asking the database; 0 disables the cache */
  ttlSeconds: number;
  /** false while notifications cannot be heard (the bus's listener is down): then bypass */
  listening: () => boolean;
  /** milliseconds clock, for tests */
  now?: () => number;
}

export interface TokenCacheStats {
  enabled: boolean;
  /** requests answered from the cache */
  hits: number;
  /** lookups in the database (misses, and every lookup while bypassed or disabled) */
  lookups: number;
  /** whole-cache clears (auth notifications, bus flushes) */
  clears: number;
  size: number;
}

interface Entry {
  caller: Caller;
  expiresAt: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private epoch = 0;
  private readonly counters = { hits: 0, lookups: 0, clears: 0 };

  constructor(private readonly opts: TokenCacheOptions) {
    this.ttlMs = opts.ttlSeconds * 1000;
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** The caller a bearer token stands for (as resolveToken), from the cache when it may be trusted. */
  async resolve(db: Queryable, token: string): Promise<Caller | undefined> {
    if (!this.enabled || !this.opts.listening()) {
      this.counters.lookups += 1;
      return resolveToken(db, token);
    }
    if (!plausibleToken(token)) return undefined;
    // crypto.hash (node 20.12+): the same digest in one call, without a Hash object per request
    const key = crypto.hash ? crypto.hash('sha256', token, 'base64') : sha256(token).toString('base64');
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) {
      this.counters.hits += 1;
      // A copy: nothing a request does to its caller may reach the next request's.
      return { ...entry.caller };
    }
    if (entry) this.entries.delete(key);
    this.counters.lookups += 1;
    const epoch = this.epoch;
    const caller = await resolveToken(db, token);
    if (caller && epoch === this.epoch && this.opts.listening()) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { caller: { ...caller }, expiresAt: this.now() + this.ttlMs });
    }
    return caller;
  }

  /** Drops every entry, and keeps lookups already under way from storing theirs. */
  clear(): void {
    this.epoch += 1;
    this.counters.clears += 1;
    this.entries.clear();
  }

  stats(): TokenCacheStats {
    return { enabled: this.enabled, ...this.counters, size: this.entries.size };
  }
}
