-- 007_legacy_bare: finds the imported users whose hash is still the seed app's bare SHA-256.
--
-- usermgr-admin import-legacy stores the seed app's unsalted SHA-256 hex as it is, and a
-- dump of the database would hold it until the user's next login.  usermgr-admin wrap-legacy
-- and the mailer (USERMGR_LEGACY_WRAP_PER_SECOND) replace each with "$sha256" + Argon2id of
-- that hex (fcgi/core/legacywrap.c; docs/DATABASE.md "Legacy import").  They find the bare
-- ones in id order through this column's index, a batch at a time, instead of reading every
-- row of users for each batch.
--
-- legacy_bare is 1 exactly for what password_verify() treats as a bare legacy hash: 64
-- characters, all lowercase hex.  The binary collation keeps upper case out (the column's
-- own collation is case-insensitive), and the length keeps out a trailing newline, which
-- '$' would let through.  PERSISTENT: the value is stored with the row, so reading it (the
-- batches, an operator's SELECT) never evaluates the REGEXP; the price is one rebuild of
-- users when this runs.
-- IF NOT EXISTS keeps the script safe to run again.

ALTER TABLE users
	ADD COLUMN IF NOT EXISTS legacy_bare TINYINT(1) AS
		(CHAR_LENGTH(password_hash) = 64
		 AND password_hash COLLATE utf8mb4_bin REGEXP '^[0-9a-f]{64}$') PERSISTENT,
	ADD KEY IF NOT EXISTS users_legacy_bare (legacy_bare, id);
