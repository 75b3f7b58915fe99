-- Index-only search on PostgreSQL. A search visits every match (to count it and to
-- find the first page) but returns a page: each visit should read an index, not the
-- table. Measured at 1M resources (code + date range, 13k matches): the probes read
-- ~54k pages (idx_token rows for res_id, resources rows for deleted/last_updated,
-- idx_date rows for the range), ~1 s with 128 MB of shared buffers.
--   value indexes carry res_id: a clause's IN (SELECT res_id ...) reads only its index;
--   the date owner index carries the range: a probe per candidate reads only the index;
--   resources_page carries what filtering and the default sort need (the page's
--   content is fetched for its 20 rows only, see adapters/sql/search/builder.py).
-- Index-only scans need the visibility map, which (auto)vacuum maintains.
CREATE INDEX resources_page ON resources (tenant, res_type, res_id) INCLUDE (deleted, last_updated);

DROP INDEX idx_token_value;
CREATE INDEX idx_token_value ON idx_token (tenant, res_type, param, code, system) INCLUDE (res_id);
DROP INDEX idx_string_value;
CREATE INDEX idx_string_value ON idx_string (tenant, res_type, param, value) INCLUDE (res_id);
DROP INDEX idx_date_value;
CREATE INDEX idx_date_value ON idx_date (tenant, res_type, param, low, high) INCLUDE (res_id);
DROP INDEX idx_date_owner;
CREATE INDEX idx_date_owner ON idx_date (tenant, res_type, res_id) INCLUDE (param, low, high);
DROP INDEX idx_number_value;
CREATE INDEX idx_number_value ON idx_number (tenant, res_type, param, value) INCLUDE (res_id);
DROP INDEX idx_quantity_value;
CREATE INDEX idx_quantity_value ON idx_quantity (tenant, res_type, param, code, value) INCLUDE (res_id);
DROP INDEX idx_reference_value;
CREATE INDEX idx_reference_value ON idx_reference (tenant, res_type, param, target_id, target_type) INCLUDE (res_id);
DROP INDEX idx_uri_value;
CREATE INDEX idx_uri_value ON idx_uri (tenant, res_type, param, value) INCLUDE (res_id);
