-- A fingerprint of the account's password hash at login: a changed
-- password ends the sessions opened with the old one.
ALTER TABLE sessions ADD COLUMN credential TEXT NOT NULL DEFAULT '';
