-- :text on tokens matches words by prefix (Condition?code:text=diabetes finds
-- "Type 2 diabetes mellitus"). Each token's display/text is split into its normalised
-- words (polyfhir_core.search.strings.text_words), one row per (param, word); a search
-- word is a range probe on idx_token_word_value, not a scan of every token's text.
-- Rows written before this migration have no words: a reindex per tenant
-- (POST /admin/reindex or `polyfhir reindex`; docs/operations.md) backfills them.
-- Until then :text finds only resources written since.
CREATE TABLE idx_token_word (
    tenant TEXT NOT NULL, res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL,
    word TEXT NOT NULL
);
CREATE INDEX idx_token_word_value ON idx_token_word (tenant, res_type, param, word, res_id);
CREATE INDEX idx_token_word_owner ON idx_token_word (tenant, res_type, res_id);
