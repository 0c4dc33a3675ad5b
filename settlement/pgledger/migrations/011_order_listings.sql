-- Organizers page through an event's orders and fans through their own, newest first, by (created_at, id): the
-- listing's keyset. The event index replaces orders_event, whose reads (reconcile, cancellation) use its prefix.
-- Neither names status, so status changes stay HOT.
CREATE INDEX IF NOT EXISTS orders_event_created ON orders (event_id, created_at DESC, id DESC);
DROP INDEX IF EXISTS orders_event;
CREATE INDEX IF NOT EXISTS orders_fan_created ON orders (fan, created_at DESC, id DESC);
