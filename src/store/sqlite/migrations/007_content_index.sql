-- Finding a committed unit by its content hash: a file re-uploaded under another name is a
-- duplicate, not new data.
CREATE INDEX units_job_content ON units (job, content_hash) WHERE status = 'committed';
