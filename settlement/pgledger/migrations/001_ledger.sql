-- The saga's system of record: orders (one per hold), the outbox, processed messages, event definitions.
CREATE TABLE events (
    id         text PRIMARY KEY,
    definition jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id              text PRIMARY KEY,
    hold_id         text NOT NULL UNIQUE,
    event_id        text NOT NULL,
    fan             text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'paying', 'paid', 'failed', 'refunded')),
    seats           text[] NOT NULL DEFAULT '{}',
    lines           jsonb NOT NULL DEFAULT '[]',
    units           integer NOT NULL DEFAULT 0,
    total           bigint NOT NULL CHECK (total >= 0),
    currency        text NOT NULL,
    payment_method  text NOT NULL,
    idempotency_key text,
    payment_key     text,
    payment_intent  text,
    failure_reason  text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    deadline        timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    settled_at      timestamptz
);
CREATE UNIQUE INDEX orders_fan_idempotency_key ON orders (fan, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_stalled ON orders (deadline) WHERE status IN ('pending', 'paying');
CREATE INDEX orders_event_status ON orders (event_id, status);
CREATE INDEX orders_payment_intent ON orders (payment_intent) WHERE payment_intent IS NOT NULL;

CREATE TABLE outbox (
    seq        bigserial PRIMARY KEY,
    message_id text NOT NULL UNIQUE,
    topic      text NOT NULL,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

CREATE TABLE processed_messages (
    message_id   text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Counters the ledger cannot know by itself (fans queued, admitted, holds made), fed by the other services.
CREATE TABLE event_counters (
    event_id   text NOT NULL,
    counter    text NOT NULL,
    value      bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, counter)
);
