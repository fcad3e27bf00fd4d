-- Each audit event carries the hash of the one before it, so editing or deleting a past
-- event breaks the chain from there on (see verifyAuditChain).
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
