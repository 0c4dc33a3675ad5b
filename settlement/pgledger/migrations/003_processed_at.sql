-- Old processed message ids are pruned by age.
CREATE INDEX processed_messages_processed_at ON processed_messages (processed_at);
