-- Outbox relay: every published event has a partition and a position in it
-- (gapless, increasing per partition in publish order), assigned before the send.
ALTER TABLE outbox ADD COLUMN partition INTEGER;
ALTER TABLE outbox ADD COLUMN position BIGINT;
-- Unpublished rows that already have a position are re-sent first, in position order.
CREATE INDEX outbox_positioned ON outbox (partition, position)
    WHERE published_at IS NULL AND position IS NOT NULL;
-- A tenant's place in the stream: its highest published position per partition.
CREATE INDEX outbox_tenant_positions ON outbox (tenant, partition, position);
-- A tenant's unpublished changes (freshness: nothing may be pending).
CREATE INDEX outbox_tenant_pending ON outbox (tenant) WHERE published_at IS NULL;

-- The last position given out per partition.
CREATE TABLE relay_positions (
    partition INTEGER PRIMARY KEY,
    position  BIGINT NOT NULL
);
