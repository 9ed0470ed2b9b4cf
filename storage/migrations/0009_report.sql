-- For the report: the network of each post a wall took, when it arrived,
-- whether it was held on arrival or ever shown, and when it was first
-- decided on after being held (unix ms; 0: not yet).
ALTER TABLE wall_posts ADD COLUMN network TEXT NOT NULL DEFAULT '';
ALTER TABLE wall_posts ADD COLUMN arrived INTEGER NOT NULL DEFAULT 0;
ALTER TABLE wall_posts ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE wall_posts ADD COLUMN shown INTEGER NOT NULL DEFAULT 0;
ALTER TABLE wall_posts ADD COLUMN decided INTEGER NOT NULL DEFAULT 0;
UPDATE wall_posts SET
    network = COALESCE((SELECT json_extract(data, '$.network') FROM posts WHERE posts.id = wall_posts.post_id), ''),
    arrived = COALESCE((SELECT stored_at FROM posts WHERE posts.id = wall_posts.post_id), 0),
    held = status = 'pending',
    shown = status = 'visible';
-- Screens connected: per wall and minute, the most at once.
CREATE TABLE screens (
    wall    TEXT NOT NULL,
    minute  INTEGER NOT NULL,
    peak    INTEGER NOT NULL,
    PRIMARY KEY (wall, minute)
);
