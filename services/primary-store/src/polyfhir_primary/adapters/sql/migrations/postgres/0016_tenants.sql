-- The tenants registry (docs/tenancy.md "Lifecycle"): a tenant is registered by its
-- first write (shared schema) or by POST /admin/tenants; DELETE /admin/tenants/{t}
-- marks it 'deleting' while its data goes, and removes the row last.
CREATE TABLE tenants (
    tenant  TEXT PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    state   TEXT NOT NULL DEFAULT 'active'
);
-- Tenants that wrote before the registry existed.
INSERT INTO tenants (tenant, created)
    SELECT tenant, MIN(last_updated) FROM resource_versions GROUP BY tenant
    ON CONFLICT DO NOTHING;

DO $$
BEGIN
    GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO polyfhir_app;
    ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
    ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
    CREATE POLICY polyfhir_tenant ON tenants TO polyfhir_app
        USING (tenant = current_setting('polyfhir.tenant', true))
        WITH CHECK (tenant = current_setting('polyfhir.tenant', true));
    EXECUTE format(
        'CREATE POLICY polyfhir_system ON tenants TO %I'
        ' USING (current_setting(''polyfhir.scope'', true) = ''system'')'
        ' WITH CHECK (current_setting(''polyfhir.scope'', true) = ''system'')',
        current_user
    );
END
$$;
