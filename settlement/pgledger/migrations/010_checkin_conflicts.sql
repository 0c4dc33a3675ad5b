-- A scanner that lost the network lets holders in on its own verdict and uploads the scan later, marked admitted.
-- When the ledger then refuses it (the ticket had entered at another gate, or was revoked meanwhile), someone got
-- in who should not have: a conflict, which the event's stats count rather than hide.
ALTER TABLE checkin_scans ADD COLUMN admitted boolean NOT NULL DEFAULT false;
CREATE INDEX checkin_scans_conflicts ON checkin_scans (event_id) WHERE admitted AND result NOT IN ('ok', '');
