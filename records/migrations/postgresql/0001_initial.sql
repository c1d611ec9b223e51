-- The first PostgreSQL schema: the same tables as SQLite's version 1, in PostgreSQL's types
-- (booleans, 64-bit millisecond times, JSON for the escalations list).
CREATE TABLE IF NOT EXISTS supporters (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('peer', 'supervisor', 'admin')),
    trained       BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT NOT NULL,
    created_ms    BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS shifts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    ended_ms   BIGINT,
    capacity   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS conversations (
    id           TEXT PRIMARY KEY,
    channel      TEXT,
    lang         TEXT,
    created_ms   BIGINT,
    queued_ms    BIGINT,
    accepted_ms  BIGINT,
    ended_ms     BIGINT,
    ended_by     TEXT,
    outcome      TEXT,
    wait_s       DOUBLE PRECISION,
    peer         TEXT,
    escalations  JSONB,
    risk         BOOLEAN,
    survey       INTEGER,
    label        TEXT,
    number_hash  TEXT,
    forgotten    BOOLEAN NOT NULL DEFAULT FALSE
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
    whisper      BOOLEAN NOT NULL,
    PRIMARY KEY (conversation, n)
);
CREATE TABLE IF NOT EXISTS sms_optouts (
    number_hash TEXT PRIMARY KEY,
    at_ms       BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms        BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    conversation TEXT,
    detail       TEXT
);
