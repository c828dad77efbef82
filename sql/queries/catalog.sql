-- Catalog snapshots used by `wdh migrate verify` and the tests.

-- name: snapshot
-- Every object a migration can define, one row each, as text that compares
-- equal between two databases built from the same SQL. The CTE picks the
-- schemas once: the given ones, or (NULL) every non-system schema.
WITH target_schemas AS (
    SELECT oid, nspname
    FROM pg_namespace
    WHERE CASE
            WHEN %(schemas)s::text[] IS NULL
                THEN nspname NOT LIKE 'pg\_%%' AND nspname <> 'information_schema'
            ELSE nspname = ANY (%(schemas)s::text[])
          END
)
-- Cast to text: a `name` column would cut qualified names at 63 bytes.
SELECT 'schema'::text AS kind, s.nspname::text AS name, ''::text AS definition
FROM target_schemas AS s
UNION ALL
SELECT 'relation',
       s.nspname || '.' || c.relname,
       CASE c.relkind
           WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
           WHEN 'f' THEN 'foreign table' WHEN 'v' THEN 'view'
           WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
       END
FROM pg_class AS c
JOIN target_schemas AS s ON s.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
UNION ALL
SELECT 'column',
       s.nspname || '.' || c.relname || '.' || a.attname,
       format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
           || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute AS a
JOIN pg_class AS c ON c.oid = a.attrelid
JOIN target_schemas AS s ON s.oid = c.relnamespace
LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0
  AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
UNION ALL
SELECT 'constraint',
       s.nspname || '.' || c.relname || '.' || con.conname,
       pg_get_constraintdef(con.oid)
FROM pg_constraint AS con
JOIN pg_class AS c ON c.oid = con.conrelid
JOIN target_schemas AS s ON s.oid = c.relnamespace
UNION ALL
SELECT 'index',
       s.nspname || '.' || ic.relname,
       pg_get_indexdef(i.indexrelid)
FROM pg_index AS i
JOIN pg_class AS ic ON ic.oid = i.indexrelid
JOIN target_schemas AS s ON s.oid = ic.relnamespace
ORDER BY kind, name;

-- name: existing_objects
-- Which of the given schemas and relations exist: one statement for any
-- list, cheap enough for `wdh db check`. to_regclass returns NULL instead of
-- raising for a relation (or its schema) that does not exist. The names are
-- unquoted identifiers, as wdh's migrations write them.
SELECT 'schema'::text AS kind, s.name
FROM unnest(%(schemas)s::text[]) AS s(name)
WHERE EXISTS (SELECT 1 FROM pg_namespace AS n WHERE n.nspname = s.name)
UNION ALL
SELECT 'relation', r.name
FROM unnest(%(relations)s::text[]) AS r(name)
WHERE to_regclass(r.name) IS NOT NULL;
