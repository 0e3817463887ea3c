-- 001_init: the whole first schema (DESIGN.md "Data", API.md); docs/DATABASE.md explains each table.
--
-- Conventions: InnoDB, utf8mb4 with utf8mb4_unicode_520_ci, every time DATETIME(6) in UTC (the
-- connection sets time_zone '+00:00'; defaults use UTC_TIMESTAMP(6) so a manual session in another
-- zone still writes UTC).  Ids are signed BIGINT to match the C side (DB_INT).  Secrets are never
-- stored: tokens, session ids and recovery codes only as their SHA-256 (BINARY(32)).
-- Written with IF NOT EXISTS / INSERT IGNORE: DDL commits implicitly in MariaDB, so a run that
-- stopped half-way must be able to run again.

CREATE TABLE IF NOT EXISTS users (
	id			BIGINT NOT NULL AUTO_INCREMENT,
	-- ASCII only (API.md §2), so the _ci collation gives plain case-insensitive uniqueness.
	username		VARCHAR(32) NOT NULL,
	email			VARCHAR(254) NOT NULL,
	-- Argon2id PHC string, a legacy SHA-256 hex (imported users, re-hashed at first login),
	-- or '!' plus anything: no password works (force-password-reset).
	password_hash		VARCHAR(255) NOT NULL,
	password_changed_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	display_name		VARCHAR(100) NULL,
	bio			VARCHAR(1000) NULL,
	status			ENUM('active', 'disabled') NOT NULL DEFAULT 'active',
	email_verified_at	DATETIME(6) NULL,
	-- Bumped whenever every token of the user must die (disable, password, roles).
	token_version		INT UNSIGNED NOT NULL DEFAULT 0,
	-- TOTP secret, AES-256-GCM (nonce || ciphertext || tag), and the id of the data key used.
	mfa_secret_enc		VARBINARY(255) NULL,
	mfa_key_id		SMALLINT UNSIGNED NULL,
	mfa_enabled_at		DATETIME(6) NULL,	-- NULL while a secret awaits confirmation
	failed_logins		INT UNSIGNED NOT NULL DEFAULT 0,
	locked_until		DATETIME(6) NULL,
	created_at		DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	updated_at		DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	last_login_at		DATETIME(6) NULL,
	PRIMARY KEY (id),
	UNIQUE KEY users_username (username),
	UNIQUE KEY users_email (email),
	KEY users_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

CREATE TABLE IF NOT EXISTS roles (
	id		INT NOT NULL AUTO_INCREMENT,
	name		VARCHAR(32) NOT NULL,
	description	VARCHAR(255) NOT NULL DEFAULT '',
	builtin		TINYINT(1) NOT NULL DEFAULT 0,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (id),
	UNIQUE KEY roles_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

INSERT IGNORE INTO roles (name, description, builtin) VALUES
	('user', 'Every signed-up account', 1),
	('admin', 'Manages users and roles', 1);

CREATE TABLE IF NOT EXISTS user_roles (
	user_id		BIGINT NOT NULL,
	role_id		INT NOT NULL,
	granted_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (user_id, role_id),
	KEY user_roles_role (role_id, user_id),
	CONSTRAINT user_roles_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
	CONSTRAINT user_roles_role FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- Browser sessions and API refresh-token families share one id space, so the session list of
-- API.md §7 ("each refresh-token family is one session") has one unambiguous id per entry.
-- INCREMENT BY 0 steps by auto_increment_increment (1 on one server, interleaved per node on
-- Galera); NOCACHE writes every value through, so no node hands out a value from a block another
-- node's copy of the sequence does not know of (sql/012 for older databases).
CREATE SEQUENCE IF NOT EXISTS session_ids START WITH 1 INCREMENT BY 0 NOCACHE;

-- Browser sessions of logged-in users.  Anonymous visitors get no row: the pre-session CSRF
-- cookie is signed, not stored, so unauthenticated traffic cannot grow this table.
CREATE TABLE IF NOT EXISTS sessions (
	id_hash		BINARY(32) NOT NULL,		-- SHA-256 of the cookie's 32 random bytes
	id		BIGINT NOT NULL DEFAULT NEXT VALUE FOR session_ids,	-- public handle
	user_id		BIGINT NOT NULL,
	csrf_seed	BINARY(32) NOT NULL,
	remember	TINYINT(1) NOT NULL DEFAULT 0,
	mfa_pending	TINYINT(1) NOT NULL DEFAULT 0,	-- password ok, TOTP step still to do
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	last_seen_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	expires_at	DATETIME(6) NOT NULL,
	ip		VARCHAR(45) NOT NULL DEFAULT '',
	user_agent	VARCHAR(255) NOT NULL DEFAULT '',
	PRIMARY KEY (id_hash),
	UNIQUE KEY sessions_id (id),
	KEY sessions_user (user_id),
	KEY sessions_expires (expires_at),
	CONSTRAINT sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- One API login = one family; its id is the access token's `sid` claim and the API session id.
CREATE TABLE IF NOT EXISTS refresh_families (
	id		BIGINT NOT NULL DEFAULT NEXT VALUE FOR session_ids,
	user_id		BIGINT NOT NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	last_used_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	revoked_at	DATETIME(6) NULL,
	revoke_reason	VARCHAR(32) NULL,	-- logout, reuse, password, admin, ...
	ip		VARCHAR(45) NOT NULL DEFAULT '',
	user_agent	VARCHAR(255) NOT NULL DEFAULT '',
	PRIMARY KEY (id),
	KEY refresh_families_user (user_id, revoked_at),
	CONSTRAINT refresh_families_user FOREIGN KEY (user_id) REFERENCES users (id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- Each rotation retires a token (rotated_at) and adds its child; a retired token presented
-- again after the 10 s grace window revokes the family (API.md §4).
CREATE TABLE IF NOT EXISTS refresh_tokens (
	id_hash		BINARY(32) NOT NULL,
	family_id	BIGINT NOT NULL,
	user_id		BIGINT NOT NULL,
	parent_hash	BINARY(32) NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	rotated_at	DATETIME(6) NULL,
	revoked_at	DATETIME(6) NULL,
	expires_at	DATETIME(6) NOT NULL,
	PRIMARY KEY (id_hash),
	KEY refresh_tokens_family (family_id),
	KEY refresh_tokens_user (user_id),
	KEY refresh_tokens_expires (expires_at),
	CONSTRAINT refresh_tokens_family FOREIGN KEY (family_id) REFERENCES refresh_families (id)
	    ON DELETE CASCADE,
	CONSTRAINT refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- Fixed-window counters shared by every worker: bucket is e.g. 'ip:login:203.0.113.7'.
-- Bumped with INSERT ... ON DUPLICATE KEY UPDATE count = count + 1.
CREATE TABLE IF NOT EXISTS rate_limits (
	bucket		VARCHAR(190) NOT NULL,
	window_start	DATETIME NOT NULL,
	count		INT UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (bucket, window_start),
	KEY rate_limits_window (window_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- No foreign keys: the history outlives the accounts it mentions.
CREATE TABLE IF NOT EXISTS audit_events (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	user_id		BIGINT NULL,		-- whom it is about
	actor_id	BIGINT NULL,		-- who did it (the user, an admin; NULL: system/CLI)
	event		VARCHAR(64) NOT NULL,	-- snake_case, e.g. login_succeeded
	ip		VARCHAR(45) NULL,
	details		JSON NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (id),
	KEY audit_events_created (created_at),
	KEY audit_events_user (user_id, id),
	KEY audit_events_event (event, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- Written in the transaction of the change that causes the mail; usermgr-mailer delivers it.
-- Its id is the Mailjet CustomID.
CREATE TABLE IF NOT EXISTS email_outbox (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	to_email	VARCHAR(254) NOT NULL,
	to_name		VARCHAR(255) NOT NULL DEFAULT '',
	subject		VARCHAR(255) NOT NULL,
	text_body	MEDIUMTEXT NOT NULL,
	html_body	MEDIUMTEXT NOT NULL,
	status		ENUM('queued', 'sent', 'failed') NOT NULL DEFAULT 'queued',
	attempts	INT UNSIGNED NOT NULL DEFAULT 0,
	next_attempt_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	last_error	VARCHAR(1000) NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	sent_at		DATETIME(6) NULL,
	PRIMARY KEY (id),
	KEY email_outbox_due (status, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- The one pending change of address per user: a newer request replaces the row, so the
-- older link (whose JWT names the row id) dies (API.md §7).
CREATE TABLE IF NOT EXISTS email_changes (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	user_id		BIGINT NOT NULL,
	new_email	VARCHAR(254) NOT NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	expires_at	DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY email_changes_user (user_id),
	CONSTRAINT email_changes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- Ten single-use codes shown once when TOTP is enabled; stored as SHA-256.
CREATE TABLE IF NOT EXISTS mfa_recovery_codes (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	user_id		BIGINT NOT NULL,
	code_hash	BINARY(32) NOT NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	used_at		DATETIME(6) NULL,
	PRIMARY KEY (id),
	UNIQUE KEY mfa_recovery_codes_code (user_id, code_hash),
	CONSTRAINT mfa_recovery_codes_user FOREIGN KEY (user_id) REFERENCES users (id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
