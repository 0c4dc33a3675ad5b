-- Fewer index entries per order, and status changes that can stay on their page (HOT): no index names status or
-- deadline, so pending → paying writes no index entry.

-- The stalled-saga poller reads orders not settled yet (pending or paying; every outcome sets settled_at) by a
-- column that never changes; their deadlines are compared on the row.
CREATE INDEX IF NOT EXISTS orders_unsettled ON orders (created_at) WHERE settled_at IS NULL;
DROP INDEX IF EXISTS orders_stalled;
-- Reconcile reads an event's orders; the status is compared on the row.
CREATE INDEX IF NOT EXISTS orders_event ON orders (event_id);
DROP INDEX IF EXISTS orders_event_status;
-- Room on each page for an order's next versions, so its updates stay on the page. New pages only.
ALTER TABLE orders SET (fillfactor = 50);

-- The relay reads the outbox from a position in seq and deletes by seq: message ids are random and unique by
-- construction, and no row is marked sent any more (those an earlier version marked are dropped here).
DELETE FROM outbox WHERE sent_at IS NOT NULL;
DROP INDEX IF EXISTS outbox_unsent;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_message_id_key;

-- Processed ids are pruned by age, and arrive in that order: a block range index serves it for almost nothing.
CREATE INDEX IF NOT EXISTS processed_messages_processed_at_brin ON processed_messages USING brin (processed_at);
DROP INDEX IF EXISTS processed_messages_processed_at;
