-- Durations (server/fields/duration.ts): an interval column, read and written as
-- H:MM:SS[.ffffff] (hours past 24 stay hours). Like 007, every input is checked
-- completely before any cast, so nothing here raises: PARALLEL SAFE for real, usable in a
-- conversion's USING and its loss count under parallel workers.

-- An interval as H:MM:SS, with microseconds when there are any; '-' before a negative
-- one. A day counts 24 hours and a month 30 days (extract(epoch ...)), which only an
-- interval made outside the daemon can hold.
CREATE FUNCTION tablewright.duration_text(d interval) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN d IS NULL THEN NULL ELSE
    (CASE WHEN s < 0 THEN '-' ELSE '' END)
    || (floor(abs(s) / 3600))::numeric(30,0)::text
    || ':' || lpad((floor(mod(abs(s), 3600) / 60))::numeric(30,0)::text, 2, '0')
    || ':' || lpad((floor(mod(abs(s), 60)))::numeric(30,0)::text, 2, '0')
    || CASE WHEN mod(abs(s), 1) = 0 THEN '' ELSE rtrim(substr(mod(abs(s), 1)::numeric(7,6)::text, 2), '0') END
  END
  FROM (SELECT extract(epoch FROM d) AS s) e
$$;

-- Text -> interval, else NULL. Takes H:MM, H:MM:SS[.ffffff] (hours of any size up to 9
-- digits), or parts such as 90m, 1h 30m, 1.5h, 45s, 2h 5m 10.5s. A value finer than a
-- microsecond is NULL (never rounded), as is anything else.
CREATE FUNCTION tablewright.try_duration(t text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  s    text;
  p    text[];
  secs numeric;
  neg  boolean;
BEGIN
  IF t IS NULL OR length(t) > 100 THEN RETURN NULL; END IF;
  s := lower(btrim(t));
  neg := left(s, 1) = '-';
  IF neg THEN s := btrim(substr(s, 2)); END IF;
  p := regexp_match(s, '^([0-9]{1,9}):([0-5][0-9])(?::([0-5][0-9](?:\.[0-9]{1,6})?))?$');
  IF p IS NOT NULL THEN
    secs := p[1]::numeric * 3600 + p[2]::numeric * 60 + coalesce(p[3]::numeric, 0);
  ELSE
    p := regexp_match(s, '^(?:([0-9]{1,9}(?:\.[0-9]{1,9})?) *h(?:ours?|rs?)?)? *(?:([0-9]{1,9}(?:\.[0-9]{1,9})?) *m(?:in(?:utes?|s)?)?)? *(?:([0-9]{1,9}(?:\.[0-9]{1,9})?) *s(?:ec(?:onds?|s)?)?)?$');
    IF p IS NULL OR (p[1] IS NULL AND p[2] IS NULL AND p[3] IS NULL) THEN RETURN NULL; END IF;
    secs := coalesce(p[1]::numeric, 0) * 3600 + coalesce(p[2]::numeric, 0) * 60 + coalesce(p[3]::numeric, 0);
  END IF;
  IF secs <> round(secs, 6) OR secs >= 360000000000 THEN RETURN NULL; END IF;
  IF neg THEN secs := -secs; END IF;
  -- H:M:S text, which interval input reads exactly (the fraction is at most 6 digits)
  RETURN ((CASE WHEN secs < 0 THEN '-' ELSE '' END) || floor(abs(secs) / 3600)::numeric(30,0)::text || ':'
          || floor(mod(abs(secs), 3600) / 60)::numeric(30,0)::text || ':' || mod(abs(secs), 60)::text)::interval;
END $$;
