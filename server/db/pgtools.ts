// PostgreSQL's client programs (pg_dump, pg_restore, initdb...) where this machine has
// them: PG_BIN_DIR (the setting, passed in as binDir), then PATH, then the usual install folders (Debian's
// /usr/lib/postgresql/<major>/bin, PGDG's /usr/pgsql-<major>/bin, Homebrew's). pg_dump
// refuses a server newer than itself, so a tool is chosen by its major version: the
// lowest at least the server's (the same when it is there).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

export interface PgTool {
  path: string;
  major: number;
}

function candidates(name: string, binDir?: string): string[] {
  const dirs: string[] = [];
  if (binDir) dirs.push(binDir);
  dirs.push(...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean));
  const globbed = (root: string, pattern: RegExp, tail: string[]) => {
    try {
      for (const entry of readdirSync(root)) if (pattern.test(entry)) dirs.push(path.join(root, entry, ...tail));
    } catch {
      // no such folder here
    }
  };
  globbed('/usr/lib/postgresql', /^\d+$/, ['bin']);
  globbed('/usr', /^pgsql-\d+$/, ['bin']);
  globbed('/opt/homebrew/opt', /^postgresql@\d+$/, ['bin']);
  globbed('/usr/local/opt', /^postgresql@\d+$/, ['bin']);
  return [...new Set(dirs.map((d) => path.join(d, name)))].filter((p) => existsSync(p));
}

/** Every copy of `name` found, with its major version. */
export function findPgTools(name: string, binDir?: string): PgTool[] {
  const out: PgTool[] = [];
  for (const p of candidates(name, binDir)) {
    try {
      const text = execFileSync(p, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
      const m = /(\d+)(?:\.\d+)?/.exec(text.replace(/^[^\d]*/, ''));
      if (m) out.push({ path: p, major: Number(m[1]) });
    } catch {
      // not runnable
    }
  }
  return out;
}

/** The copy of `name` fit for a server of this major version (the lowest >= it), if any. */
export function pgToolFor(name: string, serverMajor: number, binDir?: string): PgTool | undefined {
  return findPgTools(name, binDir)
    .filter((t) => t.major >= serverMajor)
    .sort((a, b) => a.major - b.major)[0];
}

/** A server's major version from `SHOW server_version_num` (150004 -> 15). */
export const majorOf = (serverVersionNum: string | number) => Math.floor(Number(serverVersionNum) / 10000);

/** One sentence: which tool is missing and how to get one. */
export function missingToolMessage(name: string, serverMajor: number, binDir?: string): string {
  const found = findPgTools(name, binDir);
  const have = found.length ? ` (found ${found.map((t) => `${t.path}, version ${t.major}`).join('; ')}: older than the server)` : '';
  return (
    `no ${name} for PostgreSQL ${serverMajor} or newer on this machine${have}: install the client programs of PostgreSQL ${serverMajor} ` +
    `(Debian/Ubuntu with the PGDG repository: apt-get install postgresql-client-${serverMajor}; macOS: brew install postgresql@${serverMajor}) ` +
    `or point PG_BIN_DIR at their bin folder`
  );
}
