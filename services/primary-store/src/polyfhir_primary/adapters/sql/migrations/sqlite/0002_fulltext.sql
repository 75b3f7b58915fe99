-- Full text for _text (narrative) and _content (all text): FTS5 with Porter stemming.
CREATE TABLE fulltext_docs (
    docid    INTEGER PRIMARY KEY,
    tenant   TEXT NOT NULL,
    res_type TEXT NOT NULL,
    res_id   TEXT NOT NULL,
    UNIQUE (tenant, res_type, res_id)
);
CREATE VIRTUAL TABLE fts_resources USING fts5(
    narrative, content, tokenize = 'porter unicode61 remove_diacritics 2'
);
