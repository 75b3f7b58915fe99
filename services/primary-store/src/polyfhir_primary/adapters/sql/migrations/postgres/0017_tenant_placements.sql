-- Where each tenant's data lives under the schema-per-tenant and database-per-tenant
-- strategies (docs/tenancy.md, "Strategies"): the tenant's schema or database name.
-- Unused under the shared strategy. `id` numbers the tenant for the relay, which
-- reads many outboxes at once (database per tenant): never reused, so a deleted and
-- re-provisioned tenant is a new placement. `outbox_hint` (database per tenant):
-- bumped after a commit by a process that does not run the relay, so the relay
-- reads that tenant's outbox next. A control table, not tenant data: no row-level
-- security (0015); only housekeeping and provisioning read it.
CREATE TABLE tenant_placements (
    id          BIGSERIAL PRIMARY KEY,
    tenant      TEXT NOT NULL UNIQUE,
    strategy    TEXT NOT NULL,
    location    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    outbox_hint BIGINT NOT NULL DEFAULT 0
);

-- Database per tenant: positions handed out by the control database's counter
-- (relay_positions) for rows of a tenant database's outbox, kept until the tenant
-- database has them, so a relay crash between the two commits leaves no gap.
CREATE TABLE relay_assignments (
    placement BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    partition INTEGER NOT NULL,
    position  BIGINT NOT NULL,
    PRIMARY KEY (placement, seq)
);
