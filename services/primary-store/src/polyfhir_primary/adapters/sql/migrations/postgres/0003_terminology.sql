-- Local terminology: is-a closure of stored CodeSystems, rules of stored ValueSets.
CREATE TABLE terminology_closure (
    tenant TEXT NOT NULL, owner_id TEXT NOT NULL, system TEXT NOT NULL,
    ancestor TEXT NOT NULL, descendant TEXT NOT NULL
);
CREATE INDEX terminology_closure_down ON terminology_closure (tenant, system, ancestor, descendant);
CREATE INDEX terminology_closure_up ON terminology_closure (tenant, system, descendant, ancestor);
CREATE INDEX terminology_closure_owner ON terminology_closure (tenant, owner_id);

CREATE TABLE valueset_rules (
    tenant TEXT NOT NULL, owner_id TEXT NOT NULL, url TEXT NOT NULL,
    system TEXT NOT NULL, op TEXT NOT NULL, code TEXT, exclude BOOLEAN NOT NULL
);
CREATE INDEX valueset_rules_url ON valueset_rules (tenant, url, system);
CREATE INDEX valueset_rules_owner ON valueset_rules (tenant, owner_id);
