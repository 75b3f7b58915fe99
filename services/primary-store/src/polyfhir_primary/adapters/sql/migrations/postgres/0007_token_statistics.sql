-- Token clauses as probes, and statistics that know which codes are common.
--   idx_token_value keys on res_id too: a probe "does resource X have code C" (a
--   chain's candidates checked against a code, a code checked while walking the
--   default order) is one index lookup; with res_id only INCLUDEd it read every
--   entry of the code. For a fixed code the entries also come in res_id order, so
--   the planner can merge them with resources_page.
--   idx_token_value_stats: the columns of a token row are strongly correlated (a
--   LOINC code occurs only with param 'code', system LOINC and type Observation).
--   Estimated independently, a code present on 21,000 of 714,000 Observations was
--   put at ~3,900, so the planner sorted every match (370 ms at 1M resources) instead
--   of walking the default order and stopping at the page (12 ms). The MCV list of
--   the combination, 300 entries, puts it within a few %. MCV only: with
--   functional dependencies too, ANALYZE of idx_token took 4x as long (806 vs 200
--   ms at 60k rows, 4.2 vs 1.0 s at 1M resources), a cost every background
--   analysis pays during ingest (see statistics.py).
DROP INDEX idx_token_value;
CREATE INDEX idx_token_value ON idx_token (tenant, res_type, param, code, system, res_id);
CREATE STATISTICS idx_token_value_stats (mcv) ON res_type, param, code, system
    FROM idx_token;
ALTER STATISTICS idx_token_value_stats SET STATISTICS 300;
