-- 0002 create_temp_id_sequence
-- The counter behind the older sequential temporary IDs (TEMP_000001), for
-- deployments that set WDH_TEMP_ID_STYLE=sequence. A batch reserves a whole
-- block of numbers with one UPDATE ... RETURNING. Idempotent.

CREATE TABLE IF NOT EXISTS enterprise.temp_id_sequence (
    last_number BIGINT NOT NULL DEFAULT 0
        CONSTRAINT temp_id_sequence_last_number_check CHECK (last_number >= 0),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Exactly one row: a unique index on a constant admits a single row, so an
-- UPDATE without WHERE always moves the one counter.
CREATE UNIQUE INDEX IF NOT EXISTS temp_id_sequence_one_row
    ON enterprise.temp_id_sequence ((true));

INSERT INTO enterprise.temp_id_sequence (last_number)
SELECT 0
WHERE NOT EXISTS (SELECT 1 FROM enterprise.temp_id_sequence);
