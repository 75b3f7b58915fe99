-- Row-level security on every tenant table (issue 14, docs/tenancy.md "Row-level
-- security"): a statement that forgets its tenant filter still sees only the rows of
-- the tenant its transaction is bound to.
--
-- Tenant work runs as the NOLOGIN role polyfhir_app: every tenant transaction starts
-- with set_config('role', 'polyfhir_app', true) and set_config('polyfhir.tenant',
-- <tenant>, true) (both transaction-local, so a pooled connection carries nothing to
-- the next use). The policy for polyfhir_app admits exactly that tenant's rows; with
-- no tenant set, current_setting(..., true) is NULL and nothing matches.
--
-- Housekeeping (migrations, the outbox relay, job claims, statistics, the tenants
-- list) runs as the connecting role without SET ROLE. A superuser (the embedded
-- PostgreSQL of the tests) bypasses every policy; an ordinary owner is bound by FORCE
-- and gets rows only through the polyfhir_system policy, i.e. only in a transaction
-- that set polyfhir.scope = 'system' (PostgresDatabase._system, never a request).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'polyfhir_app') THEN
        BEGIN
            CREATE ROLE polyfhir_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database of the same cluster created it meanwhile
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'polyfhir_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT polyfhir_app TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'polyfhir: role % must be a member of polyfhir_app', current_user
                USING HINT = format(
                    'as a superuser: CREATE ROLE polyfhir_app NOLOGIN; GRANT polyfhir_app TO %I;'
                    ' (docs/tenancy.md, Row-level security)', current_user);
        END;
    END IF;
END
$$;

DO $$
DECLARE
    t TEXT;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO polyfhir_app', current_schema());
    EXECUTE format(
        'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO polyfhir_app', current_schema()
    );
    -- relay_positions has no tenant: a tenant's freshness reads the partitions from it.
    GRANT SELECT ON relay_positions TO polyfhir_app;
    FOREACH t IN ARRAY ARRAY[
        'resources', 'resource_versions', 'outbox', 'fulltext',
        'idx_token', 'idx_token_word', 'idx_string', 'idx_date', 'idx_number',
        'idx_quantity', 'idx_reference', 'idx_uri',
        'terminology_closure', 'valueset_rules', 'jobs'
    ] LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO polyfhir_app', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY polyfhir_tenant ON %I TO polyfhir_app'
            ' USING (tenant = current_setting(''polyfhir.tenant'', true))'
            ' WITH CHECK (tenant = current_setting(''polyfhir.tenant'', true))',
            t
        );
        EXECUTE format(
            'CREATE POLICY polyfhir_system ON %I TO %I'
            ' USING (current_setting(''polyfhir.scope'', true) = ''system'')'
            ' WITH CHECK (current_setting(''polyfhir.scope'', true) = ''system'')',
            t, current_user
        );
    END LOOP;
END
$$;
