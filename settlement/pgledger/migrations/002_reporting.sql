-- Views for Metabase or any BI tool. Amounts are in minor units of the order's currency.

-- Units and revenue sold per section and minute (paid orders, by the minute they were paid).
CREATE VIEW sales_per_section_minute AS
SELECT o.event_id,
       l.section,
       date_trunc('minute', o.settled_at) AS minute,
       o.currency,
       sum(l.quantity)::bigint            AS units,
       sum(l.amount)::bigint              AS revenue,
       count(DISTINCT o.id)::bigint       AS orders
FROM orders o
CROSS JOIN LATERAL jsonb_to_recordset(o.lines) AS l(section text, quantity integer, unit_price bigint, amount bigint)
WHERE o.status = 'paid'
GROUP BY o.event_id, l.section, date_trunc('minute', o.settled_at), o.currency;

-- Revenue per event and currency: kept (paid) and given back (refunded).
CREATE VIEW revenue AS
SELECT event_id,
       currency,
       count(*) FILTER (WHERE status = 'paid')::bigint                    AS paid_orders,
       coalesce(sum(total) FILTER (WHERE status = 'paid'), 0)::bigint     AS revenue,
       count(*) FILTER (WHERE status = 'refunded')::bigint                AS refunded_orders,
       coalesce(sum(total) FILTER (WHERE status = 'refunded'), 0)::bigint AS refunded_amount
FROM orders
GROUP BY event_id, currency;

-- Every refund: money that arrived after the hold had ended.
CREATE VIEW refunds AS
SELECT id AS order_id, event_id, fan, hold_id, payment_intent, total, currency, failure_reason, created_at, settled_at
FROM orders
WHERE status = 'refunded';

-- The funnel queued → admitted → held → checked out → paid. The ledger knows orders only; queued, admitted and
-- held come from event_counters, which stay 0 until the waiting room and the hold service feed them.
CREATE VIEW funnel AS
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
           count(*) FILTER (WHERE status IN ('pending', 'paying'))::bigint AS in_progress
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
