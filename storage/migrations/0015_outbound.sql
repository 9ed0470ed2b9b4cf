-- The endpoints told of the walls' events (config outbound): how far each
-- got in the walls' log (an event id; every event up to it is delivered
-- or given up), and the events given up on after a day of retries.
CREATE TABLE outbound (
    name    TEXT PRIMARY KEY,
    cursor  INTEGER NOT NULL
);

CREATE TABLE outbound_failed (
    name   TEXT NOT NULL,
    event  INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    error  TEXT NOT NULL,
    PRIMARY KEY (name, event)
);
