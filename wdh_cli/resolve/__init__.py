"""Resolution of company IDs for whole spreadsheets: the five layers, reading and writing."""
