-- Admin sessions. token is the SHA-256 of the cookie value, so a copy of
-- the database does not log anyone in.
CREATE TABLE sessions (
    token    TEXT PRIMARY KEY,
    user     TEXT NOT NULL,
    role     TEXT NOT NULL,
    csrf     TEXT NOT NULL,
    expires  INTEGER NOT NULL
);

-- Who did what, when.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    user    TEXT NOT NULL,
    wall    TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);

-- Moderation rules added while the event runs. wall '*' is every wall.
CREATE TABLE rules (
    wall   TEXT NOT NULL,
    kind   TEXT NOT NULL,      -- 'author' or 'word'
    value  TEXT NOT NULL,
    at     INTEGER NOT NULL,
    user   TEXT NOT NULL,
    PRIMARY KEY (wall, kind, value)
);

CREATE TABLE announcements (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    wall     TEXT NOT NULL,
    data     TEXT NOT NULL,
    expires  INTEGER NOT NULL DEFAULT 0,   -- unix ms; 0: until ended
    ended    INTEGER NOT NULL DEFAULT 0
);
