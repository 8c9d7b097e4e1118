// Who is making a request: a signed-in user (session cookie) or a script (API token).
import type { Role } from './roles.js';

export interface Caller {
  kind: 'user' | 'token';
  /** users.id or api_tokens.id */
  id: number;
  role: Role;
  /** the user's email or the token's name */
  name: string;
  /** set for cookie sessions only: what CSRF checks and logout need */
  session?: { idHash: Buffer; csrfToken: string };
}

/** How audit rows and logs name the caller: `user:alice@example.com`, `token:deploy (#3)`. */
export function actorName(caller: Caller | undefined): string {
  if (!caller) return 'anonymous';
  return caller.kind === 'user' ? `user:${caller.name}` : `token:${caller.name} (#${caller.id})`;
}
