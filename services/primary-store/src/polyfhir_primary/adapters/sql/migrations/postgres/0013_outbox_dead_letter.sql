-- polyfhir: no-transaction
-- Outbox rows the broker refuses for good (too large, invalid) are dead-lettered: set
-- aside with the reason, never sent again, not pending, kept for an operator to inspect
-- and retry (docs/operations.md). Rows behind them flow on.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS dead_lettered_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS dead_letter_reason TEXT;
-- The operator's list (few rows; published ones are never dead-lettered).
-- Built CONCURRENTLY: the outbox takes every write.
DROP INDEX CONCURRENTLY IF EXISTS outbox_dead_lettered;
CREATE INDEX CONCURRENTLY outbox_dead_lettered ON outbox (seq) WHERE dead_lettered_at IS NOT NULL;
