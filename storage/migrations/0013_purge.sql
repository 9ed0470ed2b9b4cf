-- Events a forget took whose copies on the cluster's stream carry the
-- author: the outbox erases those messages, then the rows.
CREATE TABLE purge (
    event  INTEGER PRIMARY KEY
);
