-- The schema before versioned migrations: every table as chatd 0.x created it. IF NOT EXISTS,
-- so a database made before migrations existed is taken up as version 1 unchanged.
CREATE TABLE IF NOT EXISTS supporters (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('peer', 'supervisor', 'admin')),
    trained       INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    created_ms    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shifts (
    id         INTEGER PRIMARY KEY,
    username   TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER,
    capacity   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS conversations (
    id           TEXT PRIMARY KEY,
    channel      TEXT,
    lang         TEXT,
    created_ms   INTEGER,
    queued_ms    INTEGER,
    accepted_ms  INTEGER,
    ended_ms     INTEGER,
    ended_by     TEXT,
    outcome      TEXT,
    wait_s       REAL,
    peer         TEXT,
    escalations  TEXT,
    risk         INTEGER,
    survey       INTEGER,
    label        TEXT,
    number_hash  TEXT,
    forgotten    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS conversations_ended ON conversations (ended_ms);
CREATE TABLE IF NOT EXISTS messages (
    conversation TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    sender       TEXT NOT NULL,
    text         TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (conversation, seq)
);
CREATE TABLE IF NOT EXISTS notes (
    conversation TEXT NOT NULL,
    n            INTEGER NOT NULL,
    author       TEXT NOT NULL,
    text         TEXT NOT NULL,
    at           TEXT NOT NULL,
    whisper      INTEGER NOT NULL,
    PRIMARY KEY (conversation, n)
);
CREATE TABLE IF NOT EXISTS sms_optouts (
    number_hash TEXT PRIMARY KEY,
    at_ms       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id           INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    conversation TEXT,
    detail       TEXT
);
