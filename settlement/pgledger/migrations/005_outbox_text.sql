-- The outbox body is published as written: stored as text it is neither parsed on the way in nor printed on the
-- way out. (Writers that still send jsonb work: it converts to text on assignment.)
ALTER TABLE outbox ALTER COLUMN body TYPE text;

-- Where autovacuum runs, it summarizes each filled block range of processed ids; the ledger also asks before it
-- prunes (pgledger's relay).
ALTER INDEX processed_messages_processed_at_brin SET (autosummarize = on);
