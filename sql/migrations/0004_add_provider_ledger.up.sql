-- 0004 add_provider_ledger
-- One paid lookup per name: every definitive provider answer is remembered
-- (the ledger), and each queue request says how many rows it holds back and
-- who resolved it. Idempotent.

-- The provider ledger. One row per provider and normalized name: the latest
-- definitive answer (a match, no match, or candidates below the confidence
-- bar), with up to five candidates for a person to choose from. Transient
-- failures are never written here. Resolve and drains read it before any
-- call; `wdh queue retry` forgets the answers of the names it retries.
CREATE TABLE IF NOT EXISTS enterprise.provider_answers (
    provider        TEXT NOT NULL,
    normalized_name VARCHAR(255) NOT NULL,
    outcome         TEXT NOT NULL
        CONSTRAINT provider_answers_outcome_check
        CHECK (outcome IN ('match', 'no_match', 'low_confidence')),
    company_id      VARCHAR(100),
    candidates      JSONB NOT NULL DEFAULT '[]',
    asked_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT provider_answers_pkey PRIMARY KEY (provider, normalized_name),
    -- A match names its company; the other outcomes name none.
    CONSTRAINT provider_answers_company_check
        CHECK ((outcome = 'match') = (company_id IS NOT NULL))
);

-- rows_seen: rows that resolve runs left with this name's temporary ID (the
-- review puts the names that hold back most rows first); last_seen_at: when
-- a run last saw it; resolved_source: who resolved it (the provider's name,
-- or `review`), so rewriting the warehouse can set the source column too.
ALTER TABLE enterprise.enrichment_requests
    ADD COLUMN IF NOT EXISTS rows_seen       BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS last_seen_at    TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS resolved_source VARCHAR(50);

-- Every status, not only the open ones (0001's partial unique index covers
-- pending and processing): "has this name failed?", explain, sequential ID
-- reuse and the rows_seen updates look names up whatever their status.
CREATE INDEX IF NOT EXISTS idx_enrichment_requests_name
    ON enterprise.enrichment_requests (normalized_name);
