-- The languages a supporter speaks (contract section 3): "en", "fr" or "en,fr"; default both.
ALTER TABLE supporters ADD COLUMN languages TEXT NOT NULL DEFAULT 'en,fr';
