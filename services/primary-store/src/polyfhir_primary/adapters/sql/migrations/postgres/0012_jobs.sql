-- Durable jobs (reindex, reconcile/rebuild of a secondary, bulk export): see
-- polyfhir_core.jobs. A job outlives the process that runs it: the record holds its
-- progress, a resumable checkpoint and the owner's heartbeat.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    tenant           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    params           JSONB NOT NULL,
    state            TEXT NOT NULL,
    total            BIGINT NOT NULL DEFAULT 0,
    done             BIGINT NOT NULL DEFAULT 0,
    counters         JSONB NOT NULL DEFAULT '{}',
    checkpoint       JSONB,
    started          TIMESTAMPTZ NOT NULL,
    finished         TIMESTAMPTZ,
    error            TEXT,
    owner            TEXT,
    heartbeat        TIMESTAMPTZ,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
);
-- A tenant's jobs, newest first (GET /admin/jobs).
CREATE INDEX jobs_tenant_started ON jobs (tenant, started DESC);
-- The runners' sweep: running jobs whose heartbeat went stale.
CREATE INDEX jobs_running_heartbeat ON jobs (heartbeat) WHERE state = 'running';
