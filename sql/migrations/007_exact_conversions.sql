-- The conversion casts of 003, again, without EXCEPTION blocks where that is possible.
--
-- An EXCEPTION block starts a subtransaction, and PostgreSQL up to 17 refuses to start
-- one "during a parallel operation": in a parallel worker, and in the leader too while a
-- parallel plan runs (so PARALLEL RESTRICTED would not help). 003 marked the functions
-- PARALLEL SAFE, and every loss preview and type change over a table big enough for a
-- parallel plan (about 300k rows) failed. Here each input is checked completely first
-- (shape, then every field's range), so the cast that follows cannot raise: no exception
-- block, really PARALLEL SAFE, and cheaper (no subtransaction per row).
--
-- Every check is a nested CASE or IF, never an AND: PostgreSQL does not promise to
-- evaluate AND left to right, and a cast must only ever see text that already passed.
-- Regular expressions use [0-9], not \d (which may match other scripts' digits), and see
-- at most 1000 characters.

-- Days in a month of the proleptic Gregorian calendar (PostgreSQL's).
CREATE FUNCTION tablewright.days_in_month(y integer, m integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN m = 2 THEN CASE WHEN (y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0 THEN 29 ELSE 28 END
    WHEN m IN (4, 6, 9, 11) THEN 30
    ELSE 31
  END
$$;

-- A plain decimal (sign, digits, point, exponent of at most 3 digits), else NULL.
CREATE OR REPLACE FUNCTION tablewright.try_numeric(t text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN length(t) <= 1000 THEN
    CASE WHEN btrim(t) ~ '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$' THEN btrim(t)::numeric END
  END
$$;

-- A number that a number field holds exactly, else NULL: `decimals` places, in bigint's
-- range when decimals = 0, else below 10^(30 - decimals) (numeric(30, decimals); the 30
-- is NUMERIC_PRECISION in server/fields/number.ts). A value with more decimals is NULL,
-- never rounded: the conversion counts it as lost and keeps it.
CREATE FUNCTION tablewright.try_number(t text, decimals integer) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  n numeric := tablewright.try_numeric(t);
BEGIN
  IF n IS NULL OR n <> round(n, decimals) THEN RETURN NULL; END IF;
  IF decimals = 0 THEN
    IF n NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN RETURN NULL; END IF;
  ELSIF abs(n) >= 10::numeric ^ (30 - decimals) THEN
    RETURN NULL;
  END IF;
  RETURN round(n, decimals);
END $$;

-- YYYY-M-D (year 1 to 9999), else NULL. make_date does not depend on DateStyle.
CREATE OR REPLACE FUNCTION tablewright.try_date(t text) RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  p text[];
  y integer;
  m integer;
  d integer;
BEGIN
  IF length(t) > 1000 THEN RETURN NULL; END IF;
  p := regexp_match(btrim(t), '^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$');
  IF p IS NULL THEN RETURN NULL; END IF;
  y := p[1]::integer; m := p[2]::integer; d := p[3]::integer;
  IF y < 1 OR m NOT BETWEEN 1 AND 12 THEN RETURN NULL; END IF;
  IF d NOT BETWEEN 1 AND tablewright.days_in_month(y, m) THEN RETURN NULL; END IF;
  RETURN make_date(y, m, d);
END $$;

-- ISO 8601 (a date, or a date and a time to the microsecond); without an offset the time
-- is taken as UTC, not as the session's time zone. More than 6 decimals of a second
-- would be rounded by PostgreSQL: NULL (lost, and reported) instead.
CREATE OR REPLACE FUNCTION tablewright.try_timestamptz(t text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  s text;
  p text[];
  y integer;
  mo integer;
BEGIN
  IF length(t) > 1000 THEN RETURN NULL; END IF;
  s := btrim(t);
  --                   1 year       2 month     3 day        4 hour       5 minute      6 second      7 fraction             8 zone      9 offset h   10 offset m
  p := regexp_match(s, '^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]{1,6})?)?)?\s*(Z|z|[+-]([0-9]{2})(?::?([0-9]{2}))?)?$');
  IF p IS NULL THEN RETURN NULL; END IF;
  y := p[1]::integer; mo := p[2]::integer;
  IF y < 1 OR mo NOT BETWEEN 1 AND 12 THEN RETURN NULL; END IF;
  IF p[3]::integer NOT BETWEEN 1 AND tablewright.days_in_month(y, mo) THEN RETURN NULL; END IF;
  IF coalesce(p[4]::integer, 0) > 23 OR coalesce(p[5]::integer, 0) > 59 OR coalesce(p[6]::integer, 0) > 59 THEN RETURN NULL; END IF;
  -- PostgreSQL takes offsets up to 15:59.
  IF coalesce(p[9]::integer, 0) > 15 OR coalesce(p[10]::integer, 0) > 59 THEN RETURN NULL; END IF;
  -- The parts again, as text PostgreSQL reads the same under any DateStyle.
  s := format('%s-%s-%s %s:%s:%s%s', p[1], p[2], p[3], coalesce(p[4], '00'), coalesce(p[5], '00'), coalesce(p[6], '00'), coalesce(p[7], ''));
  IF p[8] IS NOT NULL AND p[4] IS NOT NULL THEN
    RETURN (s || p[8])::timestamptz;
  END IF;
  -- No offset (or a date alone, whose offset PostgreSQL would ignore too): UTC.
  RETURN s::timestamp AT TIME ZONE 'UTC';
END $$;

-- JSON text, else NULL. No regular expression can tell valid JSON, so this one needs
-- pg_input_is_valid (PostgreSQL 16 and later). Before 16 it keeps its exception block and
-- is marked PARALLEL UNSAFE: a query that calls it then runs without parallel workers,
-- slower on a big table, but correct.
DO $do$
BEGIN
  IF current_setting('server_version_num')::integer >= 160000 THEN
    -- PL/pgSQL, not SQL: a SQL function's body may be planned with the argument as a
    -- constant, and the planner would then fold t::jsonb, and raise, whatever the IF says.
    EXECUTE $f$
      CREATE OR REPLACE FUNCTION tablewright.try_jsonb(t text) RETURNS jsonb
      LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
      BEGIN
        IF pg_input_is_valid(t, 'jsonb') THEN
          RETURN t::jsonb;
        END IF;
        RETURN NULL;
      END $$
    $f$;
  ELSE
    EXECUTE $f$
      CREATE OR REPLACE FUNCTION tablewright.try_jsonb(t text) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL UNSAFE AS $$
      BEGIN
        RETURN t::jsonb;
      EXCEPTION WHEN others THEN
        RETURN NULL;
      END $$
    $f$;
  END IF;
END
$do$;

-- Dates and times as the API shows them, in text that depends on no session setting
-- (DateStyle, TimeZone) and so reads the same on every instance: ISO 8601, in UTC for
-- timestamptz, milliseconds always and microseconds when there are any (as JavaScript's
-- toISOString writes them, to the microsecond), ' BC' after a year before 1, and
-- 'infinity' / '-infinity' as PostgreSQL writes them.
CREATE FUNCTION tablewright.date_text(d date) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN NOT isfinite(d) THEN d::text
    ELSE to_char(d, 'YYYY-MM-DD') || CASE WHEN d < date '0001-01-01' THEN ' BC' ELSE '' END
  END
$$;

CREATE FUNCTION tablewright.timestamp_text(t timestamp) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN NOT isfinite(t) THEN t::text
    ELSE to_char(t, CASE WHEN extract(microseconds FROM t) % 1000 = 0 THEN 'YYYY-MM-DD"T"HH24:MI:SS.MS' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US' END)
      || CASE WHEN t < timestamp '0001-01-01 00:00:00' THEN ' BC' ELSE '' END
  END
$$;

CREATE FUNCTION tablewright.datetime_text(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN NOT isfinite(t) THEN t::text
    ELSE replace(tablewright.timestamp_text(t AT TIME ZONE 'UTC'), ' BC', '') || 'Z'
      || CASE WHEN t AT TIME ZONE 'UTC' < timestamp '0001-01-01 00:00:00' THEN ' BC' ELSE '' END
  END
$$;
