-- Casts that answer NULL instead of raising, for type conversions (ALTER COLUMN ... TYPE
-- ... USING allows functions but no subqueries) and for dry runs that count what would
-- not convert. Callers gate them with a regular expression first, so the exception
-- block (a subtransaction) runs only for strings that already look right.

CREATE FUNCTION tablewright.try_numeric(t text) RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  RETURN btrim(t)::numeric;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

CREATE FUNCTION tablewright.try_date(t text) RETURNS date
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  IF btrim(t) !~ '^\d{4}-\d{1,2}-\d{1,2}$' THEN RETURN NULL; END IF;
  RETURN btrim(t)::date;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

-- ISO 8601; without an offset the time is taken as UTC (not the session's time zone).
CREATE FUNCTION tablewright.try_timestamptz(t text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE s text := btrim(t);
BEGIN
  IF s !~ '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?$' THEN RETURN NULL; END IF;
  IF s ~ '(Z|z|[+-]\d{2}(:?\d{2})?)$' AND s ~ '[ T]\d{2}:' THEN
    RETURN s::timestamptz;
  END IF;
  RETURN (s::timestamp) AT TIME ZONE 'UTC';
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

CREATE FUNCTION tablewright.try_jsonb(t text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN t::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;
