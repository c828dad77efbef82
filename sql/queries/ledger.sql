-- The provider ledger, enterprise.provider_answers (wdh_cli/ledger/repository.py).

-- name: fresh_answers
-- The answers of one provider for many names, younger than the TTL: each is
-- a lookup not paid for again. One probe of the primary key per name:
-- LATERAL ... LIMIT 1 keeps the planner from turning it into a plain join
-- (the primary key allows one row anyway). With a plain join, statistics
-- taken while the ledger was small (a drain fills it quickly) made the
-- planner hash every answer of the provider for each batch of a drain: 9 ms
-- for 100 names against 20,000 answers, a quarter of the drain's time.
SELECT a.provider, a.normalized_name, a.outcome, a.company_id, a.candidates
FROM unnest(%(keys)s::text[]) AS k (normalized_name)
CROSS JOIN LATERAL (
    SELECT p.provider, p.normalized_name, p.outcome, p.company_id, p.candidates
    FROM enterprise.provider_answers AS p
    WHERE p.provider = %(provider)s
      AND p.normalized_name = k.normalized_name
      AND p.asked_at > now() - make_interval(secs => %(ttl)s)
    LIMIT 1
) AS a;

-- name: remember
-- Insert or refresh a batch of answers in one statement. DISTINCT ON keeps
-- the last answer of a name within the batch, since ON CONFLICT DO UPDATE
-- may touch a row only once per statement. Arbiter (provider,
-- normalized_name): a newer answer replaces the older one.
INSERT INTO enterprise.provider_answers
    (provider, normalized_name, outcome, company_id, candidates, asked_at)
SELECT DISTINCT ON (a.normalized_name)
       %(provider)s, a.normalized_name, a.outcome, a.company_id, a.candidates, now()
FROM unnest(%(keys)s::text[], %(outcomes)s::text[], %(company_ids)s::text[],
            %(candidates)s::jsonb[]) WITH ORDINALITY
     AS a (normalized_name, outcome, company_id, candidates, position)
ORDER BY a.normalized_name, a.position DESC
ON CONFLICT (provider, normalized_name) DO UPDATE
SET outcome = EXCLUDED.outcome,
    company_id = EXCLUDED.company_id,
    candidates = EXCLUDED.candidates,
    asked_at = EXCLUDED.asked_at;

-- name: forget
-- A person asked for a fresh answer (`wdh queue retry`): every provider's.
DELETE FROM enterprise.provider_answers
WHERE normalized_name = ANY (%(keys)s::text[]);

-- name: latest_candidates
-- For a review: each name's newest answer that has candidates, whichever
-- provider gave it (a newer "no match" from another provider must not hide
-- them); the newest answer when none has any.
SELECT DISTINCT ON (a.normalized_name)
       a.provider, a.normalized_name, a.outcome, a.company_id, a.candidates
FROM enterprise.provider_answers AS a
WHERE a.normalized_name = ANY (%(keys)s::text[])
ORDER BY a.normalized_name, (a.candidates <> '[]'::jsonb) DESC, a.asked_at DESC;
