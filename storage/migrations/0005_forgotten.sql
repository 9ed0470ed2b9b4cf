-- Authors forgotten at their request: the SHA-256 of the handle (lower
-- case, without its leading '@'), so the tombstone holds no name. A post by
-- a forgotten author is not stored again.
CREATE TABLE forgotten (
    author  TEXT PRIMARY KEY,
    at      INTEGER NOT NULL
);
