-- Program operations (contract section 9): who an audited roster change was about, the
-- program's own settings (service hours, holidays, canned responses) and the index the
-- statistics read conversations by.

-- The account a roster change was made to (NULL for peers' actions on conversations).
ALTER TABLE audit ADD COLUMN account TEXT;
CREATE INDEX IF NOT EXISTS audit_account ON audit (account);

-- One JSON document per name: 'service_hours' ({"weekly": …, "holidays": […]}) and
-- 'canned_responses' ({"en": [{label, text}…], "fr": […]}). A missing row means the default.
CREATE TABLE IF NOT EXISTS program_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);

-- Statistics select conversations by the day they were created in.
CREATE INDEX IF NOT EXISTS conversations_created ON conversations (created_ms);
CREATE INDEX IF NOT EXISTS shifts_started ON shifts (started_ms);
