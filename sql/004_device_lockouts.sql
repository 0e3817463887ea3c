-- 004_device_lockouts: failure counts and lockouts of trusted browsers (device cookies).
--
-- OWASP "Slow Down Online Guessing Attacks with Device Cookies": a browser that logged in to an
-- account before carries a signed cookie, and its wrong passwords count here as well as against
-- the account (whose lockout is unchanged for everyone); while the account is locked, the
-- browser may go on until its count here is spent, so a stranger's guesses cannot lock the owner
-- out.  A row is keyed by the SHA-256 of the cookie entry's nonce (the cookie itself is never
-- stored); it counts failures within USERMGR_LOGIN_LOCKOUT_SECONDS from the first, and at
-- USERMGR_DEVICE_MAX_FAILURES marks that one device's budget spent as long.  expires_at is the
-- end of the window or of the lock: after it the row means nothing, and retention_prune deletes
-- it.  A new password or an admin enabling the account deletes the user's rows; so does deleting
-- the account (the foreign key).  IF NOT EXISTS keeps the script safe to run again.

CREATE TABLE IF NOT EXISTS device_lockouts (
	id		BINARY(32) NOT NULL,	-- SHA-256 of the nonce
	user_id		BIGINT NOT NULL,
	failures	INT UNSIGNED NOT NULL DEFAULT 0,
	locked_until	DATETIME(6) NULL,
	expires_at	DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	KEY device_lockouts_user (user_id),
	KEY device_lockouts_expires (expires_at),
	CONSTRAINT device_lockouts_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
		ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
