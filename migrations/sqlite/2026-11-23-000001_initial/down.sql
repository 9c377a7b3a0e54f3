DROP TABLE messages;
DROP TABLE invites;
DROP TABLE memberships;
DROP TABLE rooms;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
