-- 010_login_alerts: the new-device sign-in alert (issue 13, item 5).
--
-- login_networks: per account, the (browser family, network) pairs it signed in from, with the
-- time of the last one.  network is the client's IPv4 /24 or IPv6 /48 in text (203.0.113.0/24,
-- 2001:db8:1::/48), family a short name such as "Firefox" (fcgi/core/alert.c).  A sign-in from a
-- browser without this account's device cookie and from a pair not seen within 90 days mails an
-- alert; retention_prune deletes rows older than that, as they decide nothing any more.
--
-- login_alerts: one row per alert mailed.  token_hash is the SHA-256 of the "This was not me"
-- link's token (the token itself is never stored); used_at makes the link work once; expires_at
-- bounds it (7 days) and lets retention_prune delete it.  session_id is the browser session the
-- alerted sign-in started (NULL for an API sign-in, whose refresh families all end anyway).
--
-- login_alerts_off: accounts whose owner turned the alert off on /account/security; a row
-- means off, so every account starts with alerts on and no existing row changes.
--
-- Every table has a primary key (Galera); deleting an account deletes its rows (foreign keys).
-- IF NOT EXISTS keeps the script safe to run again.

CREATE TABLE IF NOT EXISTS login_networks (
	user_id		BIGINT NOT NULL,
	family		VARCHAR(32) NOT NULL,
	network		VARCHAR(64) NOT NULL,
	last_seen	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (user_id, family, network),
	KEY login_networks_seen (last_seen),
	CONSTRAINT login_networks_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
		ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS login_alerts (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	user_id		BIGINT NOT NULL,
	token_hash	BINARY(32) NOT NULL,
	session_id	BIGINT NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	expires_at	DATETIME(6) NOT NULL,
	used_at		DATETIME(6) NULL,
	PRIMARY KEY (id),
	UNIQUE KEY login_alerts_token (token_hash),
	KEY login_alerts_expires (expires_at),
	CONSTRAINT login_alerts_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
		ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS login_alerts_off (
	user_id		BIGINT NOT NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (user_id),
	CONSTRAINT login_alerts_off_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
		ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
