-- The optional check-in (docs/protocol.md, issue 13): "How are you feeling right now?" 1..7 and
-- "Are you safe right now?" yes | no | not_sure, before the first message; and the same 1..7
-- question again in the end survey. NULL: not answered.
ALTER TABLE conversations ADD COLUMN checkin_feeling INTEGER;
ALTER TABLE conversations ADD COLUMN checkin_safe TEXT;
ALTER TABLE conversations ADD COLUMN end_feeling INTEGER;

-- The statistics read the two feelings too (mean change): the covering index of 0003 gets them,
-- so a year's figures are still read from the index alone.
DROP INDEX IF EXISTS conversations_created;
CREATE INDEX conversations_created
    ON conversations (created_ms, queued_ms, accepted_ms, ended_ms, channel, lang, survey, escalations,
                      checkin_feeling, end_feeling);
