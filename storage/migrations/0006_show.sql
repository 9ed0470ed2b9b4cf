-- What the crew puts on a wall's screens beyond its posts: paused, a
-- featured post, a holding slide (JSON of wall.Show).
CREATE TABLE shows (
    wall  TEXT PRIMARY KEY,
    data  TEXT NOT NULL
);
