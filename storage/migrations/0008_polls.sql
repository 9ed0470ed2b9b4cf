-- Live polls: a question and options, each tied to a hashtag; a post on
-- the wall that carries an option's tag is its author's vote (the last one
-- counts).
CREATE TABLE polls (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    wall    TEXT NOT NULL,
    data    TEXT NOT NULL,
    closes  INTEGER NOT NULL,   -- unix ms; 0: closed by hand only
    closed  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX polls_open ON polls (wall, closed);
CREATE TABLE votes (
    poll    INTEGER NOT NULL,
    author  TEXT NOT NULL,
    option  INTEGER NOT NULL,
    PRIMARY KEY (poll, author)
);
