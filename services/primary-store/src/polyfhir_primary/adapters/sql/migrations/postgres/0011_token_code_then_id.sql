-- polyfhir: no-transaction
-- idx_token_value keys on (code, res_id), the system only INCLUDEd: a search names
-- the code far more often than the system (`code=8867-4`), and with the system
-- between code and id (0007) the probe "does resource X have code C" without a
-- system had to go through idx_token_owner and a heap fetch for each of the
-- resource's ~12 token rows. A system given is tested within the index. For a
-- fixed code the entries now come in id order whatever their systems. Measured at
-- 1M resources, statement by statement: code + date range 13 -> 4 ms (its count
-- 12 -> 3 ms), a chain with a code 8 -> 6 ms, `_has` with a code 9 -> 7 ms; lookups
-- by identifier with or without system unchanged.
-- Built CONCURRENTLY under a new name beside the old index (idx_token is the largest
-- live table: a plain build blocks every write for its duration), then swapped in.
-- Safe to run again: every step drops what a stopped run may have left.
DROP INDEX CONCURRENTLY IF EXISTS idx_token_value_next;
CREATE INDEX CONCURRENTLY idx_token_value_next ON idx_token (tenant, res_type, param, code, res_id)
    INCLUDE (system);
DROP INDEX CONCURRENTLY IF EXISTS idx_token_value;
ALTER INDEX idx_token_value_next RENAME TO idx_token_value;
