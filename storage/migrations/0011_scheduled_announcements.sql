-- Scheduled announcements reach screens when they start, not before: when
-- each starts (ms, 0: at once) and whether its event was appended.
ALTER TABLE announcements ADD COLUMN starts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE announcements ADD COLUMN announced INTEGER NOT NULL DEFAULT 1;
