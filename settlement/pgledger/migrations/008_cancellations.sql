-- An event's cancellation is a job any replica resumes (settlement/cancel.go): recorded, then its holds closed,
-- then every paid order's refund asked for.
CREATE TABLE cancellations (
    event_id        text PRIMARY KEY REFERENCES events (id),
    cancelled_at    timestamptz NOT NULL,
    holds_closed_at timestamptz,
    finished_at     timestamptz
);
CREATE INDEX cancellations_open ON cancellations (event_id) WHERE finished_at IS NULL;

-- Why a refund was asked for (organizer, provider, event-cancelled), and its failed attempts, which the saga
-- retries and the organizer sees counted.
ALTER TABLE orders
    ADD COLUMN refund_reason text NOT NULL DEFAULT '',
    ADD COLUMN refund_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN refund_error text NOT NULL DEFAULT '';
