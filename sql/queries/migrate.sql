-- Queries of the migration runner (wdh_cli/migrate/history.py).

-- name: create_history
-- The history lives in its own schema, so that a migration's down (which may
-- drop schema enterprise) never touches it, and a backup can name it.
CREATE SCHEMA IF NOT EXISTS wdh;
CREATE TABLE IF NOT EXISTS wdh.schema_history (
    version      INTEGER PRIMARY KEY,
    description  TEXT NOT NULL,
    checksum     CHAR(64) NOT NULL,
    applied_by   TEXT NOT NULL DEFAULT current_user,
    applied_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    execution_ms INTEGER NOT NULL,
    success      BOOLEAN NOT NULL,
    error        TEXT,
    baseline     BOOLEAN NOT NULL DEFAULT false
);
-- baseline = true: recorded by `wdh migrate baseline` without running the
-- migration (its objects were made by another tool), so down never reverts
-- it. History tables made before the column existed gain it here, on the
-- next up, down, baseline or repair.
ALTER TABLE wdh.schema_history ADD COLUMN IF NOT EXISTS baseline BOOLEAN NOT NULL DEFAULT false;

-- name: history_exists
-- to_regclass instead of CREATE ... IF NOT EXISTS: status, verify and
-- --dry-run must not create anything.
SELECT to_regclass('wdh.schema_history') IS NOT NULL AS present;

-- name: applied
-- baseline is read through to_jsonb so that a history table made before the
-- column existed still reads (as "nothing baselined"): status, verify and
-- db check never alter the table, and a daily role may only SELECT it.
SELECT h.version, h.description, h.checksum, h.applied_by, h.applied_at, h.execution_ms,
       h.success, h.error,
       coalesce((to_jsonb(h) ->> 'baseline')::boolean, false) AS baseline
FROM wdh.schema_history AS h
ORDER BY h.version;

-- name: record
-- A failed attempt leaves a row with success = false; applying the version
-- later replaces it, hence the upsert on the primary key.
INSERT INTO wdh.schema_history
    (version, description, checksum, execution_ms, success, error, baseline)
VALUES (%(version)s, %(description)s, %(checksum)s, %(execution_ms)s, %(success)s, %(error)s,
        %(baseline)s)
ON CONFLICT (version) DO UPDATE
SET description  = EXCLUDED.description,
    checksum     = EXCLUDED.checksum,
    applied_by   = EXCLUDED.applied_by,
    applied_at   = EXCLUDED.applied_at,
    execution_ms = EXCLUDED.execution_ms,
    success      = EXCLUDED.success,
    error        = EXCLUDED.error,
    baseline     = EXCLUDED.baseline;

-- name: forget
DELETE FROM wdh.schema_history WHERE version = %(version)s;

-- name: set_checksum
-- `wdh migrate repair`: the file was edited on purpose. Only the checksum
-- changes; when and by whom it was applied, and whether it was a baseline,
-- stay as they were. success = true guards against "repairing" a failed
-- attempt, which repair removes instead.
UPDATE wdh.schema_history
SET checksum = %(checksum)s
WHERE version = %(version)s AND success;

-- name: forget_failed
-- `wdh migrate repair`: a failed attempt's row (its transaction rolled back,
-- so nothing of it is in the database) is only a record of the error.
DELETE FROM wdh.schema_history WHERE version = %(version)s AND NOT success;

-- name: try_lock
-- Session-level, not transaction-level: the lock must outlive the one
-- transaction per migration, and it is released if the process dies.
-- pg_try_ (polled by the caller) rather than pg_advisory_lock so that the
-- wait has a timeout and can report who holds the lock.
SELECT pg_try_advisory_lock(%(class_id)s::integer, %(object_id)s::integer) AS acquired;

-- name: unlock
SELECT pg_advisory_unlock(%(class_id)s::integer, %(object_id)s::integer) AS released;

-- name: lock_holder
-- Two-key advisory locks show up in pg_locks with objsubid = 2.
SELECT a.pid,
       a.usename AS user_name,
       a.application_name,
       host(a.client_addr) AS client_addr,
       a.backend_start
FROM pg_locks AS l
JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = %(class_id)s
  AND l.objid::bigint = %(object_id)s
  AND l.objsubid = 2
LIMIT 1;
