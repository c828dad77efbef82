-- 0001 create_enterprise_schema
-- The enterprise schema: the company master, the alias -> company mapping
-- cache, and the enrichment queue. Idempotent: every object is created only
-- if missing, so running this file twice is harmless.

CREATE SCHEMA IF NOT EXISTS enterprise;

-- One row per known company; company_id is the ID every data row carries.
CREATE TABLE IF NOT EXISTS enterprise.company_master (
    company_id          VARCHAR(100) PRIMARY KEY,
    official_name       VARCHAR(255) NOT NULL,
    unified_credit_code VARCHAR(50) UNIQUE,
    aliases             TEXT[],
    source              VARCHAR(50) NOT NULL DEFAULT 'internal',
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Keys of the five resolution levels (plan code, account number, hardcoded
-- plan, normalized name, account name) mapped to a company. One row per
-- (alias_name, match_type): a key means one company at each level.
CREATE TABLE IF NOT EXISTS enterprise.company_mapping (
    id           SERIAL PRIMARY KEY,
    alias_name   VARCHAR(255) NOT NULL,
    canonical_id VARCHAR(100) NOT NULL,
    match_type   VARCHAR(20) NOT NULL
        CONSTRAINT company_mapping_match_type_check
        CHECK (match_type IN ('plan', 'account', 'hardcode', 'name', 'account_name')),
    priority     INTEGER NOT NULL
        CONSTRAINT company_mapping_priority_check
        CHECK (priority BETWEEN 1 AND 5),
    source       VARCHAR(50) NOT NULL DEFAULT 'internal',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT company_mapping_alias_name_match_type_key UNIQUE (alias_name, match_type)
);

-- The resolver looks keys up by alias and keeps the lowest priority number.
CREATE INDEX IF NOT EXISTS idx_company_mapping_lookup
    ON enterprise.company_mapping (alias_name, priority);

-- Names that no layer could resolve, waiting for a provider lookup.
CREATE TABLE IF NOT EXISTS enterprise.enrichment_requests (
    id                  SERIAL PRIMARY KEY,
    raw_name            VARCHAR(255) NOT NULL,
    normalized_name     VARCHAR(255) NOT NULL,
    temp_id             VARCHAR(50),
    status              VARCHAR(20) NOT NULL DEFAULT 'pending'
        CONSTRAINT enrichment_requests_status_check
        CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    resolved_company_id VARCHAR(100),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Workers scan by status, oldest first.
CREATE INDEX IF NOT EXISTS idx_enrichment_requests_status
    ON enterprise.enrichment_requests (status, created_at);

-- A name is queued at most once while it is open; done and failed rows do not
-- block queueing it again.
CREATE UNIQUE INDEX IF NOT EXISTS idx_enrichment_requests_normalized
    ON enterprise.enrichment_requests (normalized_name)
    WHERE status IN ('pending', 'processing');
