-- A vote is keyed by a hash of network and handle (no handle in clear)
-- and remembers the post that cast it: a vote whose post left the wall no
-- longer counts, and forgetting the post deletes it.
ALTER TABLE votes ADD COLUMN post_id TEXT NOT NULL DEFAULT '';
CREATE INDEX votes_post ON votes (post_id);
