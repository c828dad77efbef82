-- Queries of the sequential temporary IDs (wdh_cli/tempids/repository.py).

-- name: reserve_block
-- One statement reserves a block of `count` numbers for a whole batch. The
-- row lock taken by the UPDATE serializes concurrent batches, so blocks never
-- overlap; the block is (last_number - count, last_number].
UPDATE enterprise.temp_id_sequence
SET last_number = last_number + %(count)s,
    updated_at = now()
RETURNING last_number;

-- name: queued_sequence_ids
-- A name that already holds a sequential ID in the queue keeps it: the oldest
-- request of each name wins, so the answer is stable. This reads the queue's
-- table (enrichment_requests, owned by wdh_cli/queue) because the queue is
-- where issued sequential IDs are remembered; it never writes there.
SELECT DISTINCT ON (normalized_name) normalized_name, temp_id
FROM enterprise.enrichment_requests
WHERE normalized_name = ANY (%(keys)s::text[])
  AND temp_id LIKE 'TEMP\_%%'
ORDER BY normalized_name, created_at, id;
