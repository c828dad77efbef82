-- 0005 add_name_rules_version
-- Changing the rules of normalize_name changes keys (docs/names.md,
-- "Versions of the rules"), so the database records which version its
-- stored name keys were made with; `wdh names rekey` moves them to a newer
-- one. Also what a re-key must never lose: the rows it could not merge (an
-- audit table), and the temporary IDs a request held before (previous_temp_ids).
-- Idempotent.

-- The rules version of every stored name key: company_mapping rows of type
-- name, enrichment_requests.normalized_name, provider_answers.normalized_name.
-- One row (a unique index on a constant admits a single row).
CREATE TABLE IF NOT EXISTS enterprise.name_rules (
    version    INTEGER NOT NULL CONSTRAINT name_rules_version_check CHECK (version >= 1),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX IF NOT EXISTS name_rules_one_row ON enterprise.name_rules ((true));

-- The starting version. A database that already holds name keys made them
-- with version 1, the only rules before this migration. One that holds none
-- starts at version 2, the newest rules when this migration was written (a
-- migration's text never changes, so it cannot say "the current version";
-- a later wdh whose rules are newer re-keys such a database in no time, as
-- it has no name keys).
INSERT INTO enterprise.name_rules (version)
SELECT CASE WHEN EXISTS (SELECT 1 FROM enterprise.company_mapping WHERE match_type = 'name')
              OR EXISTS (SELECT 1 FROM enterprise.enrichment_requests)
              OR EXISTS (SELECT 1 FROM enterprise.provider_answers)
            THEN 1 ELSE 2 END
WHERE NOT EXISTS (SELECT 1 FROM enterprise.name_rules);

-- Rows a re-key removed: a row whose key collapsed into another row's and
-- whose company disagreed with it (reason conflict), or whose name is no
-- company name under the new rules (reason empty). The whole row is kept
-- as JSON, with the row kept in its place, so a person can put it back.
CREATE TABLE IF NOT EXISTS enterprise.name_rekey_audit (
    id           BIGSERIAL PRIMARY KEY,
    rekeyed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    from_version INTEGER NOT NULL,
    to_version   INTEGER NOT NULL,
    table_name   TEXT NOT NULL,
    old_key      TEXT NOT NULL,
    new_key      TEXT NOT NULL,
    reason       TEXT NOT NULL
        CONSTRAINT name_rekey_audit_reason_check CHECK (reason IN ('conflict', 'empty')),
    removed_row  JSONB NOT NULL,
    kept_row     JSONB
);

-- A request whose key changed (or that was merged into another) keeps the
-- temporary IDs it held before: rows in the warehouse carry them, and
-- `wdh queue resolved` lists them with the company found.
ALTER TABLE enterprise.enrichment_requests
    ADD COLUMN IF NOT EXISTS previous_temp_ids TEXT[] NOT NULL DEFAULT '{}';
