-- Queries of `wdh db grant ROLE` (wdh_cli/admin/repository.py). The GRANT
-- statements name the role as {role} and the schema owner as {owner}: the
-- service fills them in with psycopg's sql.Identifier (quoted), never as
-- pasted text, so any role name is one identifier.

-- name: role_exists
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s) AS present;

-- name: grant_targets
-- Who owns schema enterprise (NULL before the first `wdh migrate up`), and
-- whether the history table exists. Migrations run as that owner, so the
-- tables later migrations create are its: default privileges are set for it.
SELECT (SELECT pg_get_userbyid(n.nspowner) FROM pg_namespace AS n
        WHERE n.nspname = 'enterprise') AS owner,
       to_regclass('wdh.schema_history') IS NOT NULL AS history;

-- name: grant_schemas
-- USAGE only, to reach the objects by name. No CREATE: the role makes no
-- objects, so it can run no migration and no DDL.
GRANT USAGE ON SCHEMA enterprise, wdh TO {role};

-- name: grant_tables
-- What resolve, queue *, mappings * (and later review and rewrite) read and
-- write. Not TRUNCATE, REFERENCES or TRIGGER: no daily command uses them.
-- UPDATE also lets `mappings load` take its SHARE ROW EXCLUSIVE table lock.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA enterprise TO {role};

-- name: grant_sequences
-- The SERIAL ids: INSERT calls nextval (USAGE); UPDATE and SELECT cover
-- setval and reading currval.
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA enterprise TO {role};

-- name: grant_history
-- Read-only: the daily commands may check the migration state; only the
-- owner records migrations.
GRANT SELECT ON wdh.schema_history TO {role};

-- name: default_tables
-- Tables that later migrations (run by the owner) create get the same
-- grants, so a new migration does not lock the role out until someone runs
-- `wdh db grant` again.
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA enterprise
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};

-- name: default_sequences
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA enterprise
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role};
