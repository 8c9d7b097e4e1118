-- The upload of a job (a CSV import too big to run within its request), kept in
-- PostgreSQL so that any instance may run the job: the file in chunks, in order, written
-- in the transaction that queues the job. They go when the job ends (done or failed).
CREATE TABLE tablewright.job_uploads (
  job_id bigint NOT NULL REFERENCES tablewright.jobs (id) ON DELETE CASCADE,
  seq    integer NOT NULL,
  chunk  bytea NOT NULL,
  PRIMARY KEY (job_id, seq)
);
