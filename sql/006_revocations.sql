-- 006_revocations: the revocation log — one row for every change that can end a token or a
-- session, or change what /api/v1/me and /auth/check answer, written in that change's own
-- transaction (fcgi/core/revocation.c).
--
-- It is what a host-local cache of users, sessions and refresh families reads to forget what
-- went stale: every worker reads the rows after its position at most every
-- USERMGR_REVOCATION_POLL_MS (DESIGN.md "Hot path without the database"; docs/DECISIONS.md
-- "Fast path: the revocation log").  kind says what a cache forgets:
--   user     everything about user_id: its user entry and every session and family of it;
--   family   one refresh family (family_id = the access tokens' sid) ended;
--   session  one browser session (session_hash = sessions.id_hash, the SHA-256 of the
--            cookie; the cookie itself is never stored) ended.
-- No foreign key on user_id: the row of a deleted user must outlive the user, or the cache
-- would never hear of the deletion.  retention_prune deletes rows older than a day; a cache
-- further behind than that flushes everything instead.  Ids are unsigned, as decided for
-- this table; every value comes from a signed BIGINT column, so DB_INT reads them all.
-- IF NOT EXISTS keeps the script safe to run again.

CREATE TABLE IF NOT EXISTS revocations (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	kind		ENUM('user', 'family', 'session') NOT NULL,
	user_id		BIGINT UNSIGNED NOT NULL,
	family_id	BIGINT UNSIGNED NULL,	-- kind family: refresh_families.id
	session_hash	BINARY(32) NULL,	-- kind session: sessions.id_hash
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (id),
	KEY revocations_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
