-- Keys this install made for itself (random, made on first use): the
-- uploads' room codes, delete links and phone names are HMACs under them,
-- so they survive a restart.
CREATE TABLE keys (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);

-- Each wall's room code as its screens show it (the newest room event's
-- data), so a screen that joins gets it with the snapshot.
CREATE TABLE rooms (
    wall  TEXT PRIMARY KEY,
    data  TEXT NOT NULL
);

-- The posts sent from phones, whose pictures the media store keeps while
-- they live.
CREATE INDEX posts_uploads ON posts (deleted) WHERE json_extract(data, '$.network') = 'upload';
