-- Online schema changes in flight (server/schema/online/): one row per change that runs
-- as resumable steps outside one transaction (an index built CONCURRENTLY, a CHECK
-- validated on its own, a shadow column backfilled in batches). The row says which step
-- was reached and which objects of ours exist meanwhile, so that:
--   * an instance that takes over the job after a crash resumes (or rolls back) from here;
--   * reconcile reports those objects as a change in flight, never as drift to repair;
--   * another change to the same table is refused while one runs (the unique index).
CREATE TABLE tablewright.online_changes (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id       bigint,
  table_id     bigint NOT NULL,
  field_id     bigint,
  kind         text NOT NULL,                    -- create_index | set_unique | set_not_null | change_type
  payload      jsonb NOT NULL DEFAULT '{}',      -- the request as sent (the update)
  objects      jsonb NOT NULL DEFAULT '{}',      -- {index?, constraint?, column?, trigger?, function?}
  step         text NOT NULL DEFAULT 'planned',  -- the last step completed
  status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'rolled_back')),
  cancel_requested boolean NOT NULL DEFAULT false,
  last_id      bigint,                           -- backfill: the last row id copied (batches go by id)
  done         bigint NOT NULL DEFAULT 0,
  total        bigint,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);
CREATE UNIQUE INDEX online_changes_one_per_table ON tablewright.online_changes (table_id) WHERE status = 'running';
CREATE INDEX online_changes_job_idx ON tablewright.online_changes (job_id);
