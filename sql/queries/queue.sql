-- Queries of the enrichment queue (wdh_cli/queue/repository.py).

-- name: enqueue
-- A whole batch in one statement. DISTINCT ON keeps the first spelling of
-- each normalized name in the batch. Arbiter: the partial unique index
-- idx_enrichment_requests_normalized (normalized_name WHERE status IN
-- ('pending', 'processing')), so a name already open is skipped while a done
-- or failed one can be queued again.
-- With skip_failed (resolve runs), a name whose lookup already failed is
-- not queued again: it waits for a person to map it or for `wdh queue retry`,
-- instead of costing a provider call on every run.
INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, temp_id)
SELECT DISTINCT ON (b.normalized_name) b.raw_name, b.normalized_name, b.temp_id
FROM unnest(%(raw_names)b::text[], %(normalized_names)b::text[], %(temp_ids)b::text[])
     WITH ORDINALITY AS b (raw_name, normalized_name, temp_id, position)
WHERE NOT (%(skip_failed)s AND EXISTS (
        SELECT 1 FROM enterprise.enrichment_requests AS f
        WHERE f.normalized_name = b.normalized_name AND f.status = 'failed'
    ))
ORDER BY b.normalized_name, b.position
ON CONFLICT (normalized_name) WHERE status IN ('pending', 'processing') DO NOTHING;

-- name: reclaim_stale
-- Rows a worker claimed and never finished (it died, or lost its
-- connection) go back to pending once their claim is older than the stale
-- time. A living drain renews claimed_at by its heartbeat, so only a dead
-- worker's rows ever get here, however slow the provider.
-- SKIP LOCKED: a row being recorded right now by a live worker is not stale.
WITH stale AS (
    SELECT id
    FROM enterprise.enrichment_requests
    WHERE status = 'processing'
      AND claimed_at < now() - make_interval(secs => %(stale_after)s)
    FOR UPDATE SKIP LOCKED
)
UPDATE enterprise.enrichment_requests AS r
SET status = 'pending',
    next_retry_at = now(),
    last_error = 'taken back from worker ' || coalesce(r.worker_id, '?') || ' after the stale time',
    claimed_at = NULL,
    worker_id = NULL,
    updated_at = now()
FROM stale
WHERE r.id = stale.id;

-- name: heartbeat
-- A living drain keeps its claims: the rows its workers still hold are
-- marked as claimed now, every third of the stale time. Processing rows are
-- few, and idx_enrichment_requests_claimed (partial on processing) finds them.
UPDATE enterprise.enrichment_requests
SET claimed_at = now()
WHERE status = 'processing'
  AND worker_id = ANY (%(workers)s::text[]);

-- name: claim
-- Why a CTE: the ready rows must be chosen and locked (SELECT ... FOR UPDATE)
-- before they are marked, and UPDATE has no LIMIT of its own.
-- Why SKIP LOCKED: concurrent drains skip each other's rows instead of
-- waiting on them or taking them twice; each row goes to exactly one worker.
-- The caller runs this statement alone in autocommit, so it commits as it
-- returns, before the provider is asked: the slow HTTP calls then hold no
-- locks and no open transaction, and other workers see the rows as
-- processing at once.
-- Each claimed row comes with the provider's fresh ledger answer for its
-- name, if any: this LATERAL stands in for ledger.sql fresh_answers (the
-- ledger's owner; same rule: the provider's answer younger than the TTL,
-- none when the TTL is 0), so that a drain reads the ledger in the claim's
-- round trip instead of one of its own. One probe of the primary key per
-- row (LIMIT 1 keeps the planner from turning it into a join; see
-- fresh_answers). With provider NULL (a claim that wants no answers) no
-- row matches.
WITH ready AS (
    SELECT id
    FROM enterprise.enrichment_requests
    WHERE status = 'pending'
      AND next_retry_at <= now()
    ORDER BY next_retry_at, id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    -- The UPDATE in a CTE of its own, so that its RETURNING rows can be
    -- joined to the ledger.
    UPDATE enterprise.enrichment_requests AS r
    SET status = 'processing',
        claimed_at = now(),
        worker_id = %(worker_id)s,
        updated_at = now()
    FROM ready
    WHERE r.id = ready.id
    RETURNING r.id, r.raw_name, r.normalized_name, r.temp_id, r.attempts
)
SELECT c.id, c.raw_name, c.normalized_name, c.temp_id, c.attempts,
       a.outcome AS answer_outcome, a.company_id AS answer_company_id,
       a.candidates AS answer_candidates
FROM claimed AS c
LEFT JOIN LATERAL (
    SELECT p.outcome, p.company_id, p.candidates
    FROM enterprise.provider_answers AS p
    WHERE p.provider = %(provider)s::text
      AND p.normalized_name = c.normalized_name
      AND %(ttl)s::integer > 0
      AND p.asked_at > now() - make_interval(secs => %(ttl)s::integer)
    LIMIT 1
) AS a ON true;

-- name: record_outcomes
-- The results of a whole batch in one UPDATE; each row's outcome arrives in
-- parallel arrays. Only rows this worker still holds are touched: a row
-- taken back as stale (and perhaps claimed by another worker since) keeps
-- the other worker's result. A row handed back unasked (attempted = 0,
-- status pending) keeps its previous error; a row settled by the provider
-- ledger (attempted = 0, done or failed) takes the answer's. RETURNING
-- (rather than the rowcount) says which rows were still held, and works in
-- pipeline mode.
UPDATE enterprise.enrichment_requests AS r
SET status = o.status,
    attempts = r.attempts + o.attempted,
    last_error = CASE WHEN o.status = 'pending' AND o.attempted = 0 THEN r.last_error
                      ELSE o.error END,
    resolved_company_id = o.company_id,
    resolved_source = CASE WHEN o.status = 'done' THEN %(source)s END,
    next_retry_at = now() + make_interval(secs => o.retry_in),
    claimed_at = NULL,
    worker_id = NULL,
    updated_at = now()
FROM unnest(%(ids)s::integer[], %(statuses)s::text[], %(attempted)s::integer[],
            %(errors)s::text[], %(company_ids)s::text[], %(retry_in)s::float8[])
     AS o (id, status, attempted, error, company_id, retry_in)
WHERE r.id = o.id
  AND r.status = 'processing'
  AND r.worker_id = %(worker_id)s
RETURNING r.id;

-- name: counts
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'processing') AS processing,
       count(*) FILTER (WHERE status = 'done') AS done,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'pending' AND next_retry_at <= now()) AS ready,
       count(*) FILTER (WHERE status = 'processing'
                          AND claimed_at < now() - make_interval(secs => %(stale_after)s)) AS stale,
       extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::float8
           AS oldest_pending_seconds,
       coalesce(sum(rows_seen) FILTER (WHERE status <> 'done'), 0)::bigint AS rows_waiting
FROM enterprise.enrichment_requests;

-- name: common_errors
-- Errors carry no names (wdh writes them), so they are safe to show.
SELECT last_error AS error, count(*) AS rows
FROM enterprise.enrichment_requests
WHERE status IN ('pending', 'failed') AND last_error IS NOT NULL
GROUP BY last_error
ORDER BY count(*) DESC, last_error
LIMIT %(limit)s;

-- name: retry
-- Failed rows (all, or the given ids) go back to pending with fresh
-- attempts. Only the newest failed row of a name, and only when the name is
-- not open already: the partial unique index allows one open row per name.
-- --failed leaves out the requests a person decided have no company (the
-- review's "none"); naming them with --id retries them all the same.
-- RETURNING the names: a retry also forgets their ledger answers.
UPDATE enterprise.enrichment_requests AS r
SET status = 'pending', attempts = 0, next_retry_at = now(), updated_at = now()
WHERE r.id IN (
        SELECT DISTINCT ON (f.normalized_name) f.id
        FROM enterprise.enrichment_requests AS f
        WHERE f.status = 'failed'
          AND (f.id = ANY (%(ids)s::integer[])
               OR (%(ids)s::integer[] IS NULL AND f.last_error IS DISTINCT FROM %(no_company)s))
        ORDER BY f.normalized_name, f.id DESC
    )
  AND NOT EXISTS (
        SELECT 1 FROM enterprise.enrichment_requests AS o
        WHERE o.normalized_name = r.normalized_name
          AND o.status IN ('pending', 'processing')
    )
RETURNING r.normalized_name;

-- name: resolved
-- One row per temporary ID of each done request: its temp_id, then the IDs
-- it held before a re-key (previous_temp_ids, migration 0005), all mapped to
-- the company found, since the warehouse may hold any of them. A request
-- with no ID at all still has its one row (temp_id empty).
SELECT t.temp_id, r.raw_name, r.resolved_company_id, r.updated_at AS resolved_at
FROM enterprise.enrichment_requests AS r
CROSS JOIN LATERAL unnest(array_prepend(r.temp_id, r.previous_temp_ids))
     WITH ORDINALITY AS t (temp_id, position)
WHERE r.status = 'done'
  AND (%(since)s::timestamptz IS NULL OR r.updated_at >= %(since)s::timestamptz)
  AND (t.temp_id IS NOT NULL OR t.position = 1)
ORDER BY r.updated_at, r.id, t.position;

-- name: purge_done
DELETE FROM enterprise.enrichment_requests
WHERE status = 'done'
  AND updated_at < now() - make_interval(days => %(days)s);

-- name: names_left_out
-- Which of these names `enqueue` would leave out: those with an open request
-- (its arbiter) and, with skip_failed, those whose lookup already failed.
-- Plan-only runs read it to report the figures the real run will have.
SELECT DISTINCT normalized_name
FROM enterprise.enrichment_requests
WHERE normalized_name = ANY (%(keys)s::text[])
  AND (status IN ('pending', 'processing') OR (%(skip_failed)s AND status = 'failed'));

-- name: request_of
-- The newest request of one name, for `wdh explain`.
SELECT id, status, attempts, last_error, resolved_company_id, temp_id
FROM enterprise.enrichment_requests
WHERE normalized_name = %(key)s
ORDER BY id DESC
LIMIT 1;

-- name: add_rows_seen
-- How many rows a name holds back: each name's newest request (an open one
-- first) gains the rows this resolve batch left with its temporary ID. One
-- statement per batch; updated_at is left alone (it dates the status).
WITH seen AS (
    SELECT s.normalized_name, s.n
    FROM unnest(%(keys)s::text[], %(counts)s::bigint[]) AS s (normalized_name, n)
), target AS (
    SELECT DISTINCT ON (r.normalized_name) r.id, s.n
    FROM seen AS s
    JOIN enterprise.enrichment_requests AS r ON r.normalized_name = s.normalized_name
    ORDER BY r.normalized_name, (r.status IN ('pending', 'processing')) DESC, r.id DESC
)
UPDATE enterprise.enrichment_requests AS r
SET rows_seen = r.rows_seen + t.n,
    last_seen_at = now()
FROM target AS t
WHERE r.id = t.id;

-- name: close_answered
-- Names a sync lookup in resolve just answered: their pending requests are
-- done, so no drain pays for them again. Rows in processing are left to the
-- drain that holds them (it records its own answer).
UPDATE enterprise.enrichment_requests AS r
SET status = 'done',
    resolved_company_id = a.company_id,
    resolved_source = %(source)s,
    last_error = NULL,
    updated_at = now()
FROM unnest(%(keys)s::text[], %(company_ids)s::text[]) AS a (normalized_name, company_id)
WHERE r.normalized_name = a.normalized_name
  AND r.status = 'pending';

-- name: record_reviews
-- A person's decisions (`wdh review apply`), one UPDATE for a whole file;
-- the decisions arrive as parallel arrays. A company resolves the request
-- as a provider answer would (done, resolved_company_id, resolved_source),
-- so `wdh queue resolved` lists it; a NULL company means "no company": the
-- request stays failed with the review's message as last_error, which keeps
-- it out of the next export. Only failed rows are touched: the caller locked
-- and checked them in the same transaction, so this is a guard, not a race.
UPDATE enterprise.enrichment_requests AS r
SET status = CASE WHEN d.company_id IS NULL THEN 'failed' ELSE 'done' END,
    resolved_company_id = d.company_id,
    resolved_source = CASE WHEN d.company_id IS NULL THEN NULL ELSE %(source)s END,
    last_error = CASE WHEN d.company_id IS NULL THEN %(no_company)s END,
    updated_at = now()
FROM unnest(%(ids)s::integer[], %(company_ids)s::text[]) AS d (id, company_id)
WHERE r.id = d.id
  AND r.status = 'failed';

-- name: record_batch
-- A drain's whole record step in one statement: the batch's new ledger
-- answers, the companies it learned with their names, and every claimed
-- row's outcome. Sent as four statements it cost four parses, plans and
-- executor start-ups per batch; as one, the drain comes within reach of a
-- bare SQL loop doing the same writes (bench/bench_queue.py).
-- One owner per table still holds in the sense that matters: each CTE below
-- is the same write, under the same rules, as the named query of the
-- table's owner it stands in for, and says which; change them together
-- (tests/integration/test_queue.py compares the two ways on one batch):
--   remember          ledger.sql remember           (provider_answers)
--   learned, checked,
--   companies         companies.sql upsert_companies (company_master)
--   mapped            mappings.sql insert_new_keys   (company_mapping; the
--                     figure-less form of cache_new_keys)
--   outcomes          queue.sql record_outcomes      (enrichment_requests)
-- The caller takes companies.sql lock_companies first, in the same
-- transaction, and a statement of its own: this statement's snapshot must be
-- taken after the locks are granted, so that it sees the rows of a session
-- that held them before (the race fix of company_master).
-- The arrays travel as binary parameters: as text, psycopg escaped every
-- quote of the candidates' JSON with a regular expression, 2-3 ms of client
-- time per batch of 100, about as much as the server spends on the statement.
-- All CTEs read the one snapshot taken when the statement starts and write
-- four different tables, so none depends on another's writes; each data-
-- modifying CTE runs to completion whether or not it is read.
WITH remember AS (
    -- The ledger: insert or refresh the batch's definitive answers. DISTINCT
    -- ON keeps the last answer of a name within the batch, since ON CONFLICT
    -- DO UPDATE may touch a row only once per statement. Arbiter (provider,
    -- normalized_name): a newer answer replaces the older one.
    INSERT INTO enterprise.provider_answers
        (provider, normalized_name, outcome, company_id, candidates, asked_at)
    SELECT DISTINCT ON (a.normalized_name)
           %(source)s, a.normalized_name, a.outcome, a.company_id, a.candidates, now()
    FROM unnest(%(answer_keys)b::text[], %(answer_outcomes)b::text[],
                %(answer_company_ids)b::text[], %(answer_candidates)b::jsonb[]) WITH ORDINALITY
         AS a (normalized_name, outcome, company_id, candidates, position)
    ORDER BY a.normalized_name, a.position DESC
    ON CONFLICT (provider, normalized_name) DO UPDATE
    SET outcome = EXCLUDED.outcome,
        company_id = EXCLUDED.company_id,
        candidates = EXCLUDED.candidates,
        asked_at = EXCLUDED.asked_at
), learned_rows AS (
    -- What was learned, one row per (company, raw name), in batch order: read
    -- by both the company_master and the company_mapping writes.
    SELECT l.*
    FROM unnest(%(learned_company_ids)b::text[], %(learned_official_names)b::text[],
                %(learned_codes)b::text[], %(learned_aliases)b::text[],
                %(learned_keys)b::text[]) WITH ORDINALITY
         AS l (company_id, official_name, code, alias, normalized_name, position)
), learned AS (
    -- One row per company, since ON CONFLICT DO UPDATE may touch each row
    -- only once per statement.
    SELECT l.company_id,
           min(l.official_name) AS official_name,
           min(l.code) AS code,
           array_agg(DISTINCT l.alias ORDER BY l.alias) AS aliases
    FROM learned_rows AS l
    GROUP BY l.company_id
), checked AS (
    -- A credit code is kept only if no other company of this batch claims
    -- it too (it is UNIQUE): how many companies claim each code.
    SELECT d.*, count(*) OVER (PARTITION BY d.code) AS code_owners
    FROM learned AS d
), companies AS (
    -- company_master: a new company is inserted, with its credit code unless
    -- another company holds it. Arbiter company_id: a known company keeps its
    -- fields and gains the raw names among its aliases.
    INSERT INTO enterprise.company_master
        (company_id, official_name, unified_credit_code, aliases, source)
    SELECT c.company_id,
           c.official_name,
           CASE
               WHEN c.code IS NULL OR c.code_owners > 1 THEN NULL
               WHEN EXISTS (SELECT 1 FROM enterprise.company_master AS m
                            WHERE m.unified_credit_code = c.code
                              AND m.company_id <> c.company_id)
                   THEN NULL
               ELSE c.code
           END,
           c.aliases,
           %(source)s
    FROM checked AS c
    ORDER BY c.company_id
    ON CONFLICT (company_id) DO UPDATE
    SET aliases = ARRAY(
            SELECT DISTINCT a
            FROM unnest(coalesce(company_master.aliases, '{}') || EXCLUDED.aliases) AS a
            ORDER BY a
        ),
        updated_at = now()
), mapped AS (
    -- company_mapping: each learned normalized name becomes a mapping of the
    -- name level, the provider as its source, so the next resolve hits the
    -- cache. The rule of insert_new_keys: within the batch the first row of
    -- a key counts (DISTINCT ON, batch order); a key already stored keeps
    -- its row, whatever company it names. Arbiter (alias_name, match_type)
    -- is that rule's "stored wins" (DO NOTHING also covers a key a concurrent
    -- session inserts meanwhile).
    INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority, source)
    SELECT DISTINCT ON (l.normalized_name)
           l.normalized_name, l.company_id, %(match_type)s, %(priority)s, %(source)s
    FROM learned_rows AS l
    ORDER BY l.normalized_name, l.position
    ON CONFLICT (alias_name, match_type) DO NOTHING
), outcomes AS (
    -- The claimed rows' outcomes, under the rules of record_outcomes (see
    -- there): only rows this worker still holds are touched. r.id = ANY
    -- gives the planner the batch's rows by primary key: left to the join
    -- alone, it sometimes scanned the partial index of every open row
    -- (pending ones included, 20,000 at the start of a large drain).
    UPDATE enterprise.enrichment_requests AS r
    SET status = o.status,
        attempts = r.attempts + o.attempted,
        last_error = CASE WHEN o.status = 'pending' AND o.attempted = 0 THEN r.last_error
                          ELSE o.error END,
        resolved_company_id = o.company_id,
        resolved_source = CASE WHEN o.status = 'done' THEN %(source)s END,
        next_retry_at = now() + make_interval(secs => o.retry_in),
        claimed_at = NULL,
        worker_id = NULL,
        updated_at = now()
    FROM unnest(%(ids)b::integer[], %(statuses)b::text[], %(attempted)b::integer[],
                %(errors)b::text[], %(company_ids)b::text[], %(retry_in)b::float8[])
         AS o (id, status, attempted, error, company_id, retry_in)
    WHERE r.id = o.id
      AND r.id = ANY (%(ids)b::integer[])
      AND r.status = 'processing'
      AND r.worker_id = %(worker_id)s
    RETURNING r.id
)
-- The rows this worker still held (the others were taken back as stale).
SELECT count(*) AS held FROM outcomes;

-- name: small_statement_settings
-- For a statement whose cost the planner overrates (record_waiting, over
-- arrays it cannot see into): no JIT compilation, which took 0.3 s of a
-- 0.8 s statement, and enough memory to sort 50,000 names without disk.
SET LOCAL jit = off;
SET LOCAL work_mem = '64MB';

-- name: record_waiting
-- What a resolve run leaves with temporary IDs, in one statement. Each name
-- (one row of the arrays per normalized name) comes with the rows it left:
-- - a name with no open request (and, with skip_failed, none whose lookup
--   failed) is queued, its rows recorded in the same INSERT (with queue
--   off, nothing is queued);
-- - every other name adds its rows to its newest request, an open one
--   first (`target` reads the table as it was before this statement, so a
--   request this INSERT made is never counted twice; names it queued are
--   left out by name all the same).
-- Arbiter: the partial unique index idx_enrichment_requests_normalized, as
-- in enqueue: a name another session opened meanwhile is not queued twice.
WITH waiting AS (
    SELECT w.raw_name, w.normalized_name, w.temp_id, w.rows
    FROM unnest(%(raw_names)b::text[], %(normalized_names)b::text[], %(temp_ids)b::text[],
                %(rows)b::int8[]) AS w (raw_name, normalized_name, temp_id, rows)
), inserted AS (
    INSERT INTO enterprise.enrichment_requests
        (raw_name, normalized_name, temp_id, rows_seen, last_seen_at)
    SELECT w.raw_name, w.normalized_name, w.temp_id, w.rows, now()
    FROM waiting AS w
    WHERE %(queue)s AND NOT EXISTS (
        SELECT 1 FROM enterprise.enrichment_requests AS r
        WHERE r.normalized_name = w.normalized_name
          AND (r.status IN ('pending', 'processing') OR (%(skip_failed)s AND r.status = 'failed'))
    )
    ON CONFLICT (normalized_name) WHERE status IN ('pending', 'processing') DO NOTHING
    RETURNING normalized_name
), target AS (
    SELECT DISTINCT ON (r.normalized_name) r.id, w.rows
    FROM waiting AS w
    JOIN enterprise.enrichment_requests AS r ON r.normalized_name = w.normalized_name
    WHERE NOT EXISTS (SELECT 1 FROM inserted AS i WHERE i.normalized_name = w.normalized_name)
    ORDER BY r.normalized_name, (r.status IN ('pending', 'processing')) DESC, r.id DESC
), seen AS (
    UPDATE enterprise.enrichment_requests AS r
    SET rows_seen = r.rows_seen + t.rows,
        last_seen_at = now()
    FROM target AS t
    WHERE r.id = t.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) AS queued, (SELECT count(*) FROM seen) AS seen;
