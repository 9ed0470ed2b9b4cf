-- The cluster's outbox: the wall events are the outbox, and this is how
-- far each JetStream stream has acknowledged them (a wall_events id).
CREATE TABLE outbox (
    stream     TEXT PRIMARY KEY,
    published  INTEGER NOT NULL
);
