-- The terminology-indexer's store: per tenant (the tenant leads every key and index).
CREATE TABLE resource_versions (
    tenant TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
    version INTEGER NOT NULL, deleted INTEGER NOT NULL, last_updated TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_type, resource_id)
);
CREATE TABLE applied_positions (part INTEGER PRIMARY KEY, applied INTEGER NOT NULL);
CREATE TABLE generations (tenant TEXT PRIMARY KEY, generation INTEGER NOT NULL);

CREATE TABLE code_systems (
    tenant TEXT NOT NULL, resource_id TEXT NOT NULL, url TEXT NOT NULL, version TEXT,
    name TEXT, hierarchy_meaning TEXT, resource_version INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_id)
);
CREATE INDEX code_systems_url ON code_systems (tenant, url, last_updated);
CREATE TABLE concepts (
    tenant TEXT NOT NULL, cs_id TEXT NOT NULL, code TEXT NOT NULL, display TEXT,
    definition TEXT, inactive INTEGER NOT NULL, abstract INTEGER NOT NULL,
    PRIMARY KEY (tenant, cs_id, code)
);
CREATE TABLE designations (
    tenant TEXT NOT NULL, cs_id TEXT NOT NULL, code TEXT NOT NULL, value TEXT NOT NULL,
    language TEXT, use_system TEXT, use_code TEXT, use_display TEXT
);
CREATE INDEX designations_code ON designations (tenant, cs_id, code);
CREATE TABLE concept_properties (
    tenant TEXT NOT NULL, cs_id TEXT NOT NULL, code TEXT NOT NULL, property TEXT NOT NULL,
    value TEXT NOT NULL, value_text TEXT NOT NULL
);
CREATE INDEX concept_properties_code ON concept_properties (tenant, cs_id, code, property);
CREATE INDEX concept_properties_value ON concept_properties (tenant, cs_id, property, value_text);
CREATE TABLE closure (
    tenant TEXT NOT NULL, cs_id TEXT NOT NULL, ancestor TEXT NOT NULL, descendant TEXT NOT NULL,
    PRIMARY KEY (tenant, cs_id, ancestor, descendant)
);
CREATE INDEX closure_up ON closure (tenant, cs_id, descendant, ancestor);

CREATE TABLE value_sets (
    tenant TEXT NOT NULL, resource_id TEXT NOT NULL, url TEXT, version TEXT, name TEXT,
    resource_version INTEGER NOT NULL, last_updated TEXT NOT NULL, resource TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_id)
);
CREATE INDEX value_sets_url ON value_sets (tenant, url, last_updated);

CREATE TABLE concept_maps (
    tenant TEXT NOT NULL, resource_id TEXT NOT NULL, url TEXT, version TEXT,
    source TEXT, target TEXT, last_updated TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_id)
);
CREATE INDEX concept_maps_url ON concept_maps (tenant, url);
CREATE TABLE concept_map_rows (
    tenant TEXT NOT NULL, map_id TEXT NOT NULL, source_system TEXT NOT NULL,
    source_code TEXT NOT NULL, source_display TEXT, target_system TEXT, target_code TEXT,
    target_display TEXT, equivalence TEXT NOT NULL, comment TEXT
);
CREATE INDEX concept_map_rows_source ON concept_map_rows (tenant, source_system, source_code);
CREATE INDEX concept_map_rows_target ON concept_map_rows (tenant, target_system, target_code);
CREATE INDEX concept_map_rows_map ON concept_map_rows (tenant, map_id);

CREATE TABLE expansions (
    tenant TEXT NOT NULL, cache_key TEXT NOT NULL, generation INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (tenant, cache_key)
);
CREATE TABLE expansion_dependencies (
    tenant TEXT NOT NULL, kind TEXT NOT NULL, url TEXT NOT NULL, cache_key TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, url, cache_key)
);
