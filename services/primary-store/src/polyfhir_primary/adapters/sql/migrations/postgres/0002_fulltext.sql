-- Full text for _text (narrative) and _content (all text): tsvector with English stemming.
CREATE TABLE fulltext (
    tenant    TEXT NOT NULL,
    res_type  TEXT NOT NULL,
    res_id    TEXT NOT NULL,
    narrative TSVECTOR NOT NULL,
    content   TSVECTOR NOT NULL,
    PRIMARY KEY (tenant, res_type, res_id)
);
CREATE INDEX fulltext_narrative ON fulltext USING GIN (narrative);
CREATE INDEX fulltext_content ON fulltext USING GIN (content);
