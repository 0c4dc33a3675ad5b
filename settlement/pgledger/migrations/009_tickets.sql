-- Tickets: one per unit of a paid order, written in the transaction that marks it paid, revoked in the one that
-- asks for its refund. Check-in is one conditional update of a ticket per scan, with the scan's nonce recorded in
-- the same transaction so a retried scan replays its first answer.
CREATE TABLE tickets (
    id             text PRIMARY KEY,
    order_id       text NOT NULL, -- written with its order's paid transition; no foreign key check per ticket
    event_id       text NOT NULL,
    section        text NOT NULL,
    seat           text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
    inside         boolean NOT NULL DEFAULT false,
    entries        integer NOT NULL DEFAULT 0,
    first_entry_at timestamptz,
    first_gate     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_order ON tickets (order_id);
CREATE INDEX tickets_revoked ON tickets (event_id) WHERE status = 'revoked';
CREATE INDEX tickets_entered ON tickets (event_id) WHERE first_entry_at IS NOT NULL;

CREATE TABLE checkin_scans (
    event_id       text NOT NULL,
    nonce          text NOT NULL,
    ticket_id      text NOT NULL DEFAULT '',
    result         text NOT NULL DEFAULT '',
    gate           text NOT NULL DEFAULT '',
    direction      text NOT NULL DEFAULT 'entry',
    scanned_at     timestamptz,
    first_entry_at timestamptz,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, nonce)
);

-- An event's ticket signing keys; the private half is sealed (AES-GCM) under the configured master key.
CREATE TABLE ticket_keys (
    event_id   text NOT NULL REFERENCES events (id),
    kid        text NOT NULL,
    public_key bytea NOT NULL,
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, kid)
);
