-- multiple_select (server/fields/multiple_select.ts): the column holds the chosen options'
-- ids as an integer array, so renaming an option or changing its colour rewrites no rows.
-- The column's type is the domain tablewright.option_ids: its CHECK keeps every value a
-- set in one spelling (ids ascending, no repeats, no NULL element, never empty: "none
-- chosen" is NULL), whoever writes it. Which ids are options is the field's metadata, as
-- for single_select (a CHECK naming the ids would have to be rebuilt, and the table
-- scanned, on every option added). A GIN index serves && (has_any) and @> (has_all).
--
-- Nothing here raises on any input (like 007 and 071): PARALLEL SAFE for real, usable in a
-- conversion's USING and its loss count.

CREATE FUNCTION tablewright.is_option_set(v int[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT v IS NULL OR (
    cardinality(v) BETWEEN 1 AND 500
    AND array_ndims(v) = 1
    AND array_lower(v, 1) = 1
    AND NOT EXISTS (SELECT 1 FROM unnest(v) WITH ORDINALITY AS e(x, i)
                     WHERE x IS NULL OR x < 1 OR (i > 1 AND x <= v[i - 1])))
$$;

CREATE DOMAIN tablewright.option_ids AS integer[] CHECK (tablewright.is_option_set(VALUE));

-- Ids in any order, with repeats -> the set as the domain spells it; NULL for none.
CREATE FUNCTION tablewright.option_set(v int[]) RETURNS int[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN v IS NULL OR cardinality(v) = 0 THEN NULL
    ELSE (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(v) AS x WHERE x IS NOT NULL) END
$$;

-- Comma-separated labels -> the set of their ids, matched case-insensitively against the
-- options' labels (p_labels lowercased, p_ids in step); NULL when the text is empty or any
-- label is no option (a value that would change is no value: the conversion reports it).
CREATE FUNCTION tablewright.labels_to_option_ids(t text, p_labels text[], p_ids int[]) RETURNS int[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN bool_and(k.id IS NOT NULL) AND count(*) > 0
              THEN array_agg(DISTINCT k.id ORDER BY k.id) END
    FROM (SELECT btrim(x) AS label FROM unnest(string_to_array(left(t, 100000), ',')) AS x WHERE btrim(x) <> '') s
    LEFT JOIN LATERAL (SELECT p_ids[i] AS id FROM generate_subscripts(p_labels, 1) AS i
                        WHERE p_labels[i] = lower(s.label) LIMIT 1) k ON true
$$;

-- The set of ids -> its labels in the options' order, joined by ', '; an id that is no
-- option reads #id. NULL for NULL.
CREATE FUNCTION tablewright.option_ids_text(v int[], p_ids int[], p_labels text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT string_agg(coalesce(p_labels[array_position(p_ids, x)], '#' || x), ', '
                    ORDER BY coalesce(array_position(p_ids, x), 2147483647), x)
    FROM unnest(v) AS x
$$;
