-- The optional check-in (docs/protocol.md, issue 13): "How are you feeling right now?" 1..7 and
-- "Are you safe right now?" yes | no | not_sure, before the first message; and the same 1..7
-- question again in the end survey. NULL: not answered.
ALTER TABLE conversations ADD COLUMN checkin_feeling INTEGER;
ALTER TABLE conversations ADD COLUMN checkin_safe TEXT;
ALTER TABLE conversations ADD COLUMN end_feeling INTEGER;
