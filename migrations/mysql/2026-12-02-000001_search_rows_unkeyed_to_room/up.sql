-- The search rows no longer reference their room by a foreign key. InnoDB checks a foreign key with a
-- shared lock on the parent row, held to the end of the transaction: every batch the indexer wrote held
-- its room's row, and that room's sends, which lock the same row to number their messages, waited for the
-- indexer's commit (docs/BENCHMARKS.md, "Issue 19: what the sends waited for"). The rows are the indexer's
-- own copy of their messages' words: they are written only for stored messages and deleted with their
-- room (`Tx::delete_room`).
ALTER TABLE message_search DROP FOREIGN KEY message_search_room_fk;
