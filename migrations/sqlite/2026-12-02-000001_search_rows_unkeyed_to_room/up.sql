-- MySQL drops the search rows' foreign key to their room here, because InnoDB's check of it locked the
-- room's row against its sends. SQLite locks the whole database for a write and takes no row locks, so its
-- table keeps the constraint (dropping one means rebuilding the table and its full-text index).
SELECT 1;
