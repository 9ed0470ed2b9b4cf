-- Display settings a moderator changed from the console, over the config's.
CREATE TABLE display_overrides (
    wall  TEXT PRIMARY KEY,
    data  TEXT NOT NULL
);
