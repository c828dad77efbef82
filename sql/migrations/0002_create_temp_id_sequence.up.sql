-- 0002 create_temp_id_sequence
-- The counter behind the older sequential temporary IDs (TEMP_000001), for
-- deployments that set WDH_TEMP_ID_STYLE=sequence. A batch reserves a whole
-- block of numbers with one UPDATE ... RETURNING. Idempotent: every step
-- below does nothing when its work is already done.

-- P-030: deployments that predate wdh keep this counter in an older form,
-- `id INTEGER PRIMARY KEY` plus a counter column (such as `last_value`).
-- It is recognized by an `id` column and no `last_number`, and converted in
-- place rather than replaced, so the grants on the table stay: keep the
-- largest value of its integer columns other than id, empty it, drop every
-- old column (its primary key goes with id), add the current columns and put
-- back exactly one row with that value. A table with neither column is no
-- form wdh knows: stop rather than guess at which column is the counter.
DO $$
DECLARE
    counter_table CONSTANT regclass := to_regclass('enterprise.temp_id_sequence');
    old_value bigint := 0;
    column_value bigint;
    old_column name;
BEGIN
    IF counter_table IS NULL OR EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = counter_table AND attname = 'last_number'
          AND attnum > 0 AND NOT attisdropped
    ) THEN
        RETURN;  -- no table yet (made below), or already the current form
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = counter_table AND attname = 'id' AND attnum > 0 AND NOT attisdropped
    ) THEN
        RAISE EXCEPTION 'enterprise.temp_id_sequence has neither last_number nor id, '
            'so wdh cannot tell which column is the counter: convert it by hand';
    END IF;

    FOR old_column IN
        SELECT attname FROM pg_attribute
        WHERE attrelid = counter_table AND attnum > 0 AND NOT attisdropped
          AND attname <> 'id'
          AND atttypid IN ('smallint'::regtype, 'integer'::regtype,
                           'bigint'::regtype, 'numeric'::regtype)
    LOOP
        EXECUTE format('SELECT max(%I)::bigint FROM %s', old_column, counter_table)
            INTO column_value;
        old_value := greatest(old_value, coalesce(column_value, 0));
    END LOOP;

    -- Rows first: a table whose columns are all dropped still has its rows,
    -- and each would become a counter row once the new columns are added.
    DELETE FROM enterprise.temp_id_sequence;
    FOR old_column IN
        SELECT attname FROM pg_attribute
        WHERE attrelid = counter_table AND attnum > 0 AND NOT attisdropped
    LOOP
        EXECUTE format('ALTER TABLE %s DROP COLUMN %I', counter_table, old_column);
    END LOOP;
    ALTER TABLE enterprise.temp_id_sequence
        ADD COLUMN last_number BIGINT NOT NULL DEFAULT 0
            CONSTRAINT temp_id_sequence_last_number_check CHECK (last_number >= 0),
        ADD COLUMN updated_at  TIMESTAMPTZ NOT NULL DEFAULT now();
    INSERT INTO enterprise.temp_id_sequence (last_number) VALUES (old_value);
END
$$;

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

-- No temporary ID may be issued twice. Sequential IDs already handed out
-- (by wdh, or by the tool before it, whose counter may lag behind) are
-- remembered in the queue: raise the counter to the largest TEMP_ number
-- there, and never lower it. At most 18 digits, so the cast to bigint cannot
-- overflow on a malformed ID (a longer one could never be reached anyway).
UPDATE enterprise.temp_id_sequence
SET last_number = issued.max_number,
    updated_at = now()
FROM (
    SELECT max(substring(temp_id FROM '^TEMP_([0-9]{1,18})$')::bigint) AS max_number
    FROM enterprise.enrichment_requests
) AS issued
WHERE issued.max_number > enterprise.temp_id_sequence.last_number;
