"""Company mappings: the five key levels, YAML/CSV readers, the repository, load/export/check."""
