-- Full text is found by word (the GIN indexes), then filtered to the tenant and type.
-- With the key led by (tenant, res_type) the planner ANDed the word's bitmap with a
-- bitmap of every document of the type (62,160 Conditions at 1M resources: 12 ms
-- before the first match, for a filter the heap rows answer anyway). Keyed by
-- (tenant, res_id, res_type) the key still finds one resource's documents (all
-- three equal), but no longer offers a type-wide range: _text at 1M, first page
-- and total up to 100, 32 -> 12 ms.
ALTER TABLE fulltext
    DROP CONSTRAINT fulltext_pkey,
    ADD CONSTRAINT fulltext_pkey PRIMARY KEY (tenant, res_id, res_type);
