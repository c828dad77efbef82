-- 0002 create_temp_id_sequence (down)
-- Drops only what 0002 created; schema enterprise belongs to 0001.
DROP INDEX IF EXISTS enterprise.temp_id_sequence_one_row;
DROP TABLE IF EXISTS enterprise.temp_id_sequence;
