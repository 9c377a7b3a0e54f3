ALTER TABLE message_search ADD CONSTRAINT message_search_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id);
