-- Posts are stored once per (source, native id). A deleted post keeps its
-- row as a tombstone so a repeat from upstream is recognised and dropped.
CREATE TABLE posts (
    id         TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    native_id  TEXT NOT NULL,
    data       TEXT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    stored_at  INTEGER NOT NULL,
    UNIQUE (source, native_id)
);
CREATE INDEX posts_stored_at ON posts (stored_at);

-- The fate of a post on each wall that took it.
CREATE TABLE wall_posts (
    wall     TEXT NOT NULL,
    post_id  TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    status   TEXT NOT NULL,
    reason   TEXT NOT NULL DEFAULT '',
    pinned   INTEGER NOT NULL DEFAULT 0,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (wall, post_id)
);
CREATE INDEX wall_posts_by_status ON wall_posts (wall, status, seq);

-- The append-only log of each wall. id is the SSE id; AUTOINCREMENT keeps
-- ids from being reused after retention deletes old rows.
CREATE TABLE wall_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    wall     TEXT NOT NULL,
    type     TEXT NOT NULL,
    post_id  TEXT,
    data     TEXT,
    at       INTEGER NOT NULL
);
CREATE INDEX wall_events_by_wall ON wall_events (wall, id);

-- Per wall: the newest event id that retention has deleted.
CREATE TABLE walls (
    slug            TEXT PRIMARY KEY,
    pruned_through  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE cursors (
    source      TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
