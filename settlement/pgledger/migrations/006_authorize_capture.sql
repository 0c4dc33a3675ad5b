-- Payments are authorized first and captured once the seats are sold: an order may wait for the fan to confirm
-- or authenticate the payment in the page (requires_action), with what the page needs to do it, until pay_by.
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'paying', 'requires_action', 'paid', 'failed', 'refunded'));
ALTER TABLE orders ADD COLUMN client_secret text;
ALTER TABLE orders ADD COLUMN next_action_type text;
ALTER TABLE orders ADD COLUMN next_action_url text;
ALTER TABLE orders ADD COLUMN pay_by timestamptz;

CREATE OR REPLACE VIEW funnel AS
WITH ev AS (
    SELECT id AS event_id FROM events
    UNION SELECT event_id FROM orders
    UNION SELECT event_id FROM event_counters
), o AS (
    SELECT event_id,
           count(*)::bigint                                   AS checked_out,
           count(*) FILTER (WHERE status = 'paid')::bigint    AS paid,
           count(*) FILTER (WHERE status = 'failed')::bigint  AS failed,
           count(*) FILTER (WHERE status = 'refunded')::bigint AS refunded,
           count(*) FILTER (WHERE status IN ('pending', 'paying', 'requires_action'))::bigint AS in_progress
    FROM orders GROUP BY event_id
)
SELECT ev.event_id,
       coalesce((SELECT value FROM event_counters c WHERE c.event_id = ev.event_id AND c.counter = 'queued'), 0)   AS queued,
       coalesce((SELECT value FROM event_counters c WHERE c.event_id = ev.event_id AND c.counter = 'admitted'), 0) AS admitted,
       coalesce((SELECT value FROM event_counters c WHERE c.event_id = ev.event_id AND c.counter = 'held'), 0)     AS held,
       coalesce(o.checked_out, 0) AS checked_out,
       coalesce(o.paid, 0)        AS paid,
       coalesce(o.failed, 0)      AS failed,
       coalesce(o.refunded, 0)    AS refunded,
       coalesce(o.in_progress, 0) AS in_progress
FROM ev LEFT JOIN o USING (event_id);
