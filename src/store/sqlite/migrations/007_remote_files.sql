-- Finding a committed unit by its content hash: a file re-uploaded under another name is a
-- duplicate, not new data.
CREATE INDEX units_job_content ON units (job, content_hash) WHERE status = 'committed';

-- Where a unit's original went afterwards: its archive, the failed-files folder, or the
-- folder a landing-zone job routed it to.
ALTER TABLE units ADD COLUMN moved_to TEXT;
