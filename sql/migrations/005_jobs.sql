-- Long work (a type change on a big table, ...) runs as a job: any instance may claim it
-- (FOR UPDATE SKIP LOCKED), reports progress here from a separate connection while the
-- work's own transaction runs, and beats a heartbeat. A job whose instance died (no
-- heartbeat) is queued again while attempts remain, else failed: its transaction was
-- rolled back with the connection, so nothing is ever left half-applied.
CREATE TABLE tablewright.jobs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind         text NOT NULL,
  table_id     bigint,
  payload      jsonb NOT NULL DEFAULT '{}',
  status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  phase        text,
  done         bigint NOT NULL DEFAULT 0,
  total        bigint,
  result       jsonb,
  error        jsonb,
  attempts     integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 3,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz,
  heartbeat_at timestamptz,
  claimed_by   text
);
CREATE INDEX jobs_queued_idx ON tablewright.jobs (id) WHERE status = 'queued';
CREATE INDEX jobs_running_idx ON tablewright.jobs (heartbeat_at) WHERE status = 'running';
CREATE INDEX jobs_table_idx ON tablewright.jobs (table_id, id DESC);
