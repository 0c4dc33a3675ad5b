-- The ledger guards the sale itself, whatever the inventory says: a paid transition that would sell a seat twice
-- or put a section past its capacity fails in its own transaction (the saga then gives the money back).

-- Each registered section's capacity and its units sold (valid tickets), changed in the statement that writes or
-- revokes the tickets. Only an increase is checked, so a section oversold before this guard can still refund.
CREATE TABLE section_sales (
    event_id text NOT NULL,
    section  text NOT NULL,
    capacity integer NOT NULL CHECK (capacity >= 0),
    sold     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, section)
);

CREATE FUNCTION section_sales_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'section % of event % would sell % of % units', NEW.section, NEW.event_id, NEW.sold, NEW.capacity
        USING ERRCODE = 'check_violation', CONSTRAINT = 'section_sales_capacity';
END
$$;

CREATE TRIGGER section_sales_capacity BEFORE UPDATE ON section_sales
    FOR EACH ROW WHEN (NEW.sold > OLD.sold AND NEW.sold > NEW.capacity) EXECUTE FUNCTION section_sales_refuse();

INSERT INTO section_sales (event_id, section, capacity)
SELECT e.id, s.id, greatest(coalesce(s.capacity, 0), 0)
FROM events e CROSS JOIN LATERAL jsonb_to_recordset(coalesce(e.definition -> 'sections', '[]')) AS s(id text, capacity integer)
WHERE s.id IS NOT NULL
ON CONFLICT DO NOTHING;

UPDATE section_sales s SET sold = c.n
FROM (SELECT event_id, section, count(*)::integer AS n FROM tickets WHERE status = 'valid' GROUP BY event_id, section) c
WHERE s.event_id = c.event_id AND s.section = c.section;

-- A seat is in at most one valid ticket of its event. Seats a database already sold twice keep their first valid
-- ticket in the index; the others are marked oversold (for an operator to settle) and stay out of it.
ALTER TABLE tickets ADD COLUMN oversold boolean NOT NULL DEFAULT false;
UPDATE tickets t SET oversold = true
FROM (SELECT id, row_number() OVER (PARTITION BY event_id, seat ORDER BY created_at, id) AS n
      FROM tickets WHERE seat <> '' AND status = 'valid') d
WHERE t.id = d.id AND d.n > 1;
CREATE UNIQUE INDEX tickets_seat_sold ON tickets (event_id, seat) WHERE seat <> '' AND status = 'valid' AND NOT oversold;
