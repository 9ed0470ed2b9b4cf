-- Sponsor cards shown on screens: per wall, sponsor and minute, how many
-- showings and how many screen-seconds, for the report.
CREATE TABLE impressions (
    wall     TEXT NOT NULL,
    sponsor  TEXT NOT NULL,
    minute   INTEGER NOT NULL,
    shows    INTEGER NOT NULL,
    seconds  INTEGER NOT NULL,
    PRIMARY KEY (wall, sponsor, minute)
);
