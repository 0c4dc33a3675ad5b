-- An organizer's refund of a paid order is requested first and carried out by the saga: the order stays paid,
-- unsettled again, until the money is back and its seats are on sale again.
ALTER TABLE orders ADD COLUMN refund_requested_at timestamptz;
