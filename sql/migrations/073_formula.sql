-- Formulas (server/formula/): a formula over the row's own fields with immutable functions
-- is a STORED generated column, so PostgreSQL only takes IMMUTABLE functions in it. A date
-- as text is the one piece the built-ins give only as STABLE (to_char and date's output
-- depend on DateStyle): this writes it as ISO 8601 whatever the session says. A date that
-- is not finite (infinity, which only SQL can write) is NULL; nothing here raises.
CREATE FUNCTION tablewright.iso_date(d date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN isfinite(d) AND extract(year FROM d) BETWEEN 1 AND 9999 THEN
    lpad(extract(year FROM d)::int::text, 4, '0') || '-' || lpad(extract(month FROM d)::int::text, 2, '0')
    || '-' || lpad(extract(day FROM d)::int::text, 2, '0') END
$$;
