-- The resolve engine's work tables (wdh_cli/resolution/repository.py): a
-- run sends the database what it must look up, set-based, and reads back
-- only what matched. Temporary tables live as long as the run's session;
-- each is created anew by the run that needs it.

-- name: create_keys
-- The distinct keys of a run, per level: what layer 2 looks up. A file run
-- fills it by COPY (CSV made by the columnar engine); a table run by one
-- INSERT ... SELECT DISTINCT per level (sql/queries/resolve_table.sql).
DROP TABLE IF EXISTS wdh_keys;
CREATE TEMPORARY TABLE wdh_keys (match_type text NOT NULL, key text NOT NULL)
ON COMMIT PRESERVE ROWS;

-- name: copy_keys
COPY wdh_keys (match_type, key) FROM STDIN (FORMAT csv);

-- name: analyze_keys
-- Temporary tables are never analyzed by autovacuum; without statistics the
-- planner takes wdh_keys for a small table and probes the cache's index once
-- per key, where a hash join of a million keys is several times cheaper.
ANALYZE wdh_keys;

-- name: cache_hits
-- Layer 2 as the run starts: the stored mapping of every key of wdh_keys
-- that has one, as CSV (the columnar engine reads it without a Python object
-- per row). wdh_keys may hold a key more than once (each batch of a file
-- sends its own distinct keys): DISTINCT. One join for every level: the
-- planner hashes or probes the unique index (alias_name, match_type),
-- whichever the counts favour.
COPY (
    SELECT DISTINCT k.match_type, k.key, m.canonical_id, m.priority
    FROM wdh_keys AS k
    JOIN enterprise.company_mapping AS m
      ON m.alias_name = k.key AND m.match_type = k.match_type
) TO STDOUT (FORMAT csv);

-- name: create_learned
-- Keys the run learned from its own existing IDs, each with the rows that
-- taught it: what backflow writes (mappings.sql, insert_learned).
DROP TABLE IF EXISTS wdh_learned;
CREATE TEMPORARY TABLE wdh_learned (
    alias_name   text    NOT NULL,
    canonical_id text    NOT NULL,
    match_type   text    NOT NULL,
    priority     integer NOT NULL,
    rows         bigint  NOT NULL
) ON COMMIT PRESERVE ROWS;

-- name: copy_learned
COPY wdh_learned (alias_name, canonical_id, match_type, priority, rows) FROM STDIN (FORMAT csv);

-- name: level_size
-- How many mappings the cache holds for these match types, counted up to a
-- cap: a file run reads a small level whole instead of sending it every
-- key of the file (an account level often holds few keys, while the file
-- has one account a row). The count stops at the cap: on a large level it
-- costs no more than reading `cap` rows.
SELECT count(*) AS mappings
FROM (
    SELECT 1 FROM enterprise.company_mapping
    WHERE match_type = ANY (%(types)s::text[])
    LIMIT %(cap)s
) AS level;

-- name: level_mappings
-- A small level whole, as CSV (see level_size).
COPY (
    SELECT match_type, alias_name, canonical_id, priority
    FROM enterprise.company_mapping
    WHERE match_type = ANY ({types})
) TO STDOUT (FORMAT csv);
