-- 008_counts: what /metrics reports, kept by the writes that change it, and the indexes the
-- admin lists need at a million users (docs/DATABASE.md "Counts", "Admin lists at scale").
--
-- /metrics used to COUNT(*) the users and outbox tables per scrape: two seconds of MariaDB at a
-- million users, every 15 s.  Now triggers add each change to a row of `counts` that belongs
-- to the writing connection (node, conn), so two transactions never wait on the same row — not
-- on one server, and not across a Galera cluster, where two nodes updating one row would
-- abort one of them.  /metrics sums the rows (a few per connection ever seen); the mailer
-- folds rows idle for an hour into the node '' row so the table stays small.  A connection
-- whose row was folded simply inserts a new one.
--
-- Triggers run as their definer (the migration account), so the worker's account needs no
-- privilege on `counts` beyond what it has.  Everything is re-runnable: IF NOT EXISTS, and the
-- starting values are written only when the base row is absent.

CREATE TABLE IF NOT EXISTS counts (
	node		VARCHAR(80) NOT NULL,	-- @@hostname:@@port of the writer; '' = folded
	conn		BIGINT UNSIGNED NOT NULL,	-- CONNECTION_ID() of the writer; 0 = folded
	users_active	BIGINT NOT NULL DEFAULT 0,
	users_disabled	BIGINT NOT NULL DEFAULT 0,
	users_unverified BIGINT NOT NULL DEFAULT 0,
	legacy_bare	BIGINT NOT NULL DEFAULT 0,	-- bare SHA-256 hex (imported, not yet wrapped)
	legacy_wrapped	BIGINT NOT NULL DEFAULT 0,	-- '$sha256' + Argon2id over that hex
	outbox_queued	BIGINT NOT NULL DEFAULT 0,
	outbox_sent	BIGINT NOT NULL DEFAULT 0,
	outbox_failed	BIGINT NOT NULL DEFAULT 0,
	touched_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (node, conn)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- The kind of a stored hash as the counts see it: 1 bare legacy, 2 wrapped legacy, 0 other.
-- Bare as users.legacy_bare (sql/007) has it: binary collation, since the column's _ci one
-- would let REGEXP match upper-case hex, and the length, since '$' also matches before a
-- final newline — password_verify takes neither as a legacy hash.
CREATE FUNCTION IF NOT EXISTS usermgr_hash_kind(h VARCHAR(255)) RETURNS TINYINT
	DETERMINISTIC NO SQL
	RETURN CASE WHEN CHAR_LENGTH(h) = 64 AND h COLLATE utf8mb4_bin REGEXP '^[0-9a-f]{64}$' THEN 1
		WHEN h COLLATE utf8mb4_bin LIKE '$sha256$%' THEN 2 ELSE 0 END;

-- The one write of every count: adds the changes to the calling connection's row (own), or
-- to the base row ('', 0) when folding (fcgi/core/counts.c).
CREATE PROCEDURE IF NOT EXISTS usermgr_counts_add(own BOOL, ua BIGINT, ud BIGINT, uu BIGINT,
	lb BIGINT, lw BIGINT, oq BIGINT, os BIGINT, of BIGINT)
	MODIFIES SQL DATA
	INSERT INTO counts (node, conn, users_active, users_disabled, users_unverified,
		legacy_bare, legacy_wrapped, outbox_queued, outbox_sent, outbox_failed)
	VALUES (IF(own, CONCAT(@@hostname, ':', @@port), ''), IF(own, CONNECTION_ID(), 0),
		ua, ud, uu, lb, lw, oq, os, of)
	ON DUPLICATE KEY UPDATE touched_at = UTC_TIMESTAMP(6),
		users_active = users_active + ua, users_disabled = users_disabled + ud,
		users_unverified = users_unverified + uu, legacy_bare = legacy_bare + lb,
		legacy_wrapped = legacy_wrapped + lw, outbox_queued = outbox_queued + oq,
		outbox_sent = outbox_sent + os, outbox_failed = outbox_failed + of;

-- A bulk import (fcgi/core/import.c) sets @usermgr_counted and adds each batch's totals in
-- one write: a statement per inserted row would cost more than the insert itself.
CREATE TRIGGER IF NOT EXISTS users_counts_insert AFTER INSERT ON users FOR EACH ROW
	IF @usermgr_counted IS NULL THEN
	CALL usermgr_counts_add(1, NEW.status = 'active', NEW.status = 'disabled',
		NEW.email_verified_at IS NULL, usermgr_hash_kind(NEW.password_hash) = 1,
		usermgr_hash_kind(NEW.password_hash) = 2, 0, 0, 0);
	END IF;

CREATE TRIGGER IF NOT EXISTS users_counts_delete AFTER DELETE ON users FOR EACH ROW
	CALL usermgr_counts_add(1, -(OLD.status = 'active'), -(OLD.status = 'disabled'),
		-(OLD.email_verified_at IS NULL), -(usermgr_hash_kind(OLD.password_hash) = 1),
		-(usermgr_hash_kind(OLD.password_hash) = 2), 0, 0, 0);

-- Most updates (a login's last_login_at, a failed attempt) change nothing counted: no write.
CREATE TRIGGER IF NOT EXISTS users_counts_update AFTER UPDATE ON users FOR EACH ROW
	IF NOT (OLD.status <=> NEW.status
		AND (OLD.email_verified_at IS NULL) <=> (NEW.email_verified_at IS NULL)
		AND OLD.password_hash <=> NEW.password_hash) THEN
	CALL usermgr_counts_add(1, (NEW.status = 'active') - (OLD.status = 'active'),
		(NEW.status = 'disabled') - (OLD.status = 'disabled'),
		(NEW.email_verified_at IS NULL) - (OLD.email_verified_at IS NULL),
		(usermgr_hash_kind(NEW.password_hash) = 1) - (usermgr_hash_kind(OLD.password_hash) = 1),
		(usermgr_hash_kind(NEW.password_hash) = 2) - (usermgr_hash_kind(OLD.password_hash) = 2),
		0, 0, 0);
	END IF;

CREATE TRIGGER IF NOT EXISTS outbox_counts_insert AFTER INSERT ON email_outbox FOR EACH ROW
	CALL usermgr_counts_add(1, 0, 0, 0, 0, 0, NEW.status = 'queued', NEW.status = 'sent',
		NEW.status = 'failed');

CREATE TRIGGER IF NOT EXISTS outbox_counts_delete AFTER DELETE ON email_outbox FOR EACH ROW
	CALL usermgr_counts_add(1, 0, 0, 0, 0, 0, -(OLD.status = 'queued'),
		-(OLD.status = 'sent'), -(OLD.status = 'failed'));

CREATE TRIGGER IF NOT EXISTS outbox_counts_update AFTER UPDATE ON email_outbox FOR EACH ROW
	IF NOT (OLD.status <=> NEW.status) THEN
	CALL usermgr_counts_add(1, 0, 0, 0, 0, 0, (NEW.status = 'queued') - (OLD.status = 'queued'),
		(NEW.status = 'sent') - (OLD.status = 'sent'),
		(NEW.status = 'failed') - (OLD.status = 'failed'));
	END IF;

-- The starting values, once (IGNORE: a second run finds the row there): what the tables hold
-- minus what the triggers above recorded already (writes may run while this migrates), read
-- in one statement so both agree.
INSERT IGNORE INTO counts (node, conn, users_active, users_disabled, users_unverified,
	legacy_bare, legacy_wrapped, outbox_queued, outbox_sent, outbox_failed)
SELECT '', 0,
	(SELECT COUNT(*) FROM users WHERE status = 'active') - IFNULL(SUM(users_active), 0),
	(SELECT COUNT(*) FROM users WHERE status = 'disabled') - IFNULL(SUM(users_disabled), 0),
	(SELECT COUNT(*) FROM users WHERE email_verified_at IS NULL) - IFNULL(SUM(users_unverified), 0),
	(SELECT COUNT(*) FROM users WHERE usermgr_hash_kind(password_hash) = 1) - IFNULL(SUM(legacy_bare), 0),
	(SELECT COUNT(*) FROM users WHERE usermgr_hash_kind(password_hash) = 2) - IFNULL(SUM(legacy_wrapped), 0),
	(SELECT COUNT(*) FROM email_outbox WHERE status = 'queued') - IFNULL(SUM(outbox_queued), 0),
	(SELECT COUNT(*) FROM email_outbox WHERE status = 'sent') - IFNULL(SUM(outbox_sent), 0),
	(SELECT COUNT(*) FROM email_outbox WHERE status = 'failed') - IFNULL(SUM(outbox_failed), 0)
FROM counts;

-- The unverified filter of the admin list, in id order (keyset paging) without a scan.
CREATE INDEX IF NOT EXISTS users_unverified ON users (email_verified_at, id);
-- The oldest queued mail for /metrics, and the outbox by status.
CREATE INDEX IF NOT EXISTS email_outbox_status_created ON email_outbox (status, created_at);
-- Live API sessions for /metrics: a range of the NULLs, not a scan.
CREATE INDEX IF NOT EXISTS refresh_families_live ON refresh_families (revoked_at);
