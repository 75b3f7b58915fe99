-- Resources (current version), every version, the outbox, search index rows.
CREATE TABLE resources (
    tenant       TEXT NOT NULL,
    res_type     TEXT NOT NULL,
    res_id       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    last_updated TIMESTAMPTZ NOT NULL,
    deleted      BOOLEAN NOT NULL,
    content      BYTEA,
    PRIMARY KEY (tenant, res_type, res_id)
);
CREATE INDEX resources_by_last_updated ON resources (tenant, res_type, last_updated);

CREATE TABLE resource_versions (
    seq          BIGSERIAL PRIMARY KEY,
    tenant       TEXT NOT NULL,
    res_type     TEXT NOT NULL,
    res_id       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    last_updated TIMESTAMPTZ NOT NULL,
    deleted      BOOLEAN NOT NULL,
    method       TEXT NOT NULL,
    content      BYTEA,
    UNIQUE (tenant, res_type, res_id, version)
);
CREATE INDEX resource_versions_by_tenant ON resource_versions (tenant, seq);
CREATE INDEX resource_versions_by_type ON resource_versions (tenant, res_type, seq);

CREATE TABLE outbox (
    seq          BIGSERIAL PRIMARY KEY,
    tenant       TEXT NOT NULL,
    res_type     TEXT NOT NULL,
    res_id       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    payload      BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

CREATE TABLE idx_token (
    tenant TEXT NOT NULL, res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT, code TEXT, text TEXT
);
CREATE INDEX idx_token_value ON idx_token (tenant, res_type, param, code, system);
CREATE INDEX idx_token_owner ON idx_token (tenant, res_type, res_id);

CREATE TABLE idx_string (
    tenant TEXT NOT NULL, res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT COLLATE "C" NOT NULL, exact TEXT
);
CREATE INDEX idx_string_value ON idx_string (tenant, res_type, param, value);
CREATE INDEX idx_string_owner ON idx_string (tenant, res_type, res_id);

CREATE TABLE idx_date (
    tenant TEXT NOT NULL, res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL,
    low TIMESTAMPTZ NOT NULL, high TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_date_value ON idx_date (tenant, res_type, param, low, high);
CREATE INDEX idx_date_owner ON idx_date (tenant, res_type, res_id);

CREATE TABLE idx_number (
    tenant TEXT NOT NULL, res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_number_value ON idx_number (tenant, res_type, param, value);
CREATE INDEX idx_number_owner ON idx_number (tenant, res_type, res_id);

CREATE TABLE idx_quantity (
    tenant TEXT NOT NULL, res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
    system TEXT, code TEXT, unit TEXT
);
CREATE INDEX idx_quantity_value ON idx_quantity (tenant, res_type, param, code, value);
CREATE INDEX idx_quantity_owner ON idx_quantity (tenant, res_type, res_id);

CREATE TABLE idx_reference (
    tenant TEXT NOT NULL, res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL,
    target_type TEXT, target_id TEXT, url TEXT
);
CREATE INDEX idx_reference_value ON idx_reference (tenant, res_type, param, target_id, target_type);
CREATE INDEX idx_reference_target ON idx_reference (tenant, target_type, target_id);
CREATE INDEX idx_reference_owner ON idx_reference (tenant, res_type, res_id);

CREATE TABLE idx_uri (
    tenant TEXT NOT NULL, res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT COLLATE "C" NOT NULL
);
CREATE INDEX idx_uri_value ON idx_uri (tenant, res_type, param, value);
CREATE INDEX idx_uri_owner ON idx_uri (tenant, res_type, res_id);

-- Outbox relay wake-up (used by the relay; harmless until then).
CREATE FUNCTION polyfhir_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('polyfhir_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION polyfhir_outbox_notify();
