-- Accounts, sessions, API tokens, login throttling and the first-run setup token.
-- Secrets are never stored: sessions, tokens and setup links keep only the SHA-256 of
-- the random value handed out, passwords only their scrypt hash.

CREATE TABLE tablewright.users (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  role           text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  password_hash  text NOT NULL,                 -- scrypt$N$r$p$salt$hash (base64url)
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz
);
CREATE UNIQUE INDEX users_email_key ON tablewright.users (lower(email));

-- A console login. The cookie carries a random id; only its hash is stored, so a read
-- of this table (a backup, a replica) does not hand out live sessions.
CREATE TABLE tablewright.sessions (
  id_hash       bytea PRIMARY KEY,
  user_id       bigint NOT NULL REFERENCES tablewright.users (id) ON DELETE CASCADE,
  csrf_token    text NOT NULL,                  -- synchronizer token for this session's forms
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,           -- slides forward while the session is used
  address       text,
  user_agent    text
);
CREATE INDEX sessions_user_idx ON tablewright.sessions (user_id);
CREATE INDEX sessions_expires_idx ON tablewright.sessions (expires_at);

-- Tokens for scripts: `Authorization: Bearer <token>`. Not tied to a user, so that
-- `tablewright token create` works before any account exists.
CREATE TABLE tablewright.api_tokens (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role          text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  token_hash    bytea NOT NULL UNIQUE,
  prefix        text NOT NULL,                  -- the first characters, to recognise a token in a list
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    text,
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  revoked_by    text
);

-- Failed logins per key ('account:<email>' or 'address:<ip>') in a fixed window. In the
-- database rather than in memory, so that every instance sees the same counts.
CREATE TABLE tablewright.login_failures (
  key           text PRIMARY KEY,
  failures      integer NOT NULL,
  window_start  timestamptz NOT NULL
);

-- One-time first-run links, valid while no user exists; all are deleted when the first
-- account is created. Each instance that starts with no user adds (and logs) its own.
CREATE TABLE tablewright.setup_tokens (
  token_hash  bytea PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now()
);
