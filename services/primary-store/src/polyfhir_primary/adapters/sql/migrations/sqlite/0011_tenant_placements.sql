-- Where each tenant's data lives under the database-per-tenant strategy
-- (docs/tenancy.md, "Strategies"): the tenant's file. Unused under the shared
-- strategy. `id` numbers the tenant for the relay, which reads many outboxes at
-- once: never reused (AUTOINCREMENT), so a re-provisioned tenant is a new placement.
-- `outbox_hint`: bumped after a commit by a process that does not run the relay.
CREATE TABLE tenant_placements (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL UNIQUE,
    strategy    TEXT NOT NULL,
    location    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    outbox_hint INTEGER NOT NULL DEFAULT 0
);

-- Positions handed out by the control database's counter (relay_positions) for rows
-- of a tenant file's outbox, kept until the tenant file has them (no gap on a crash).
CREATE TABLE relay_assignments (
    placement INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (placement, seq)
);
