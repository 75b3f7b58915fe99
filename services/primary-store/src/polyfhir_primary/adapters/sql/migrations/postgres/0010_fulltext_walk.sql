-- polyfhir: no-transaction
-- Full-text documents of one type in id order, for the first page of a full-text
-- search in the default order (type, then id): the search reads documents in
-- this order and tests each one's words in place, and stops at the page
-- (``builder.SearchStatements.walk``). A word in 2 % of 62,160 Conditions at 1M
-- resources: 1,315 documents read, 1.8 ms; through the resources of the type,
-- probing each one's document, 9 µs a row.
-- Built CONCURRENTLY (outside a transaction): fulltext is a live table; a
-- failed build leaves an invalid index, dropped first when the file runs again.
DROP INDEX CONCURRENTLY IF EXISTS fulltext_walk;
CREATE INDEX CONCURRENTLY fulltext_walk ON fulltext (tenant, res_type, res_id);
