-- 009_passkeys: WebAuthn credentials (passkeys) and the challenges of their ceremonies (issue 13).
--
-- passkeys: one row per credential a user registered.  The public key is the COSE_Key as
-- the authenticator encoded it (fcgi/core/webauthn.c reads it again for every sign-in);
-- key material needs no sealing, it is public.  credential_id is unique across users: the
-- sign-in finds the account by it (discoverable credentials send no username).  name is
-- the user's label, shown only to them and to administrators.  sign_count is the
-- authenticator's counter (a regression is refused and audited).
--
-- webauthn_challenges: the random challenge of each options answer, single use, five
-- minutes (docs/DECISIONS.md "Passkeys").  The row is found by the SHA-256 of the
-- challenge_id the client carries back, so a database dump holds no usable id; the
-- challenge itself is public (it went to the browser) and is stored as it is.  purpose and
-- user_id bind it to its ceremony and, for registration, to its user.  retention_prune
-- deletes expired rows.  IF NOT EXISTS keeps the script safe to run again.

CREATE TABLE IF NOT EXISTS passkeys (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	user_id		BIGINT NOT NULL,
	credential_id	VARBINARY(1023) NOT NULL,
	public_key	VARBINARY(1024) NOT NULL,	-- COSE_Key (RFC 9052 §7)
	alg		INT NOT NULL,			-- COSE algorithm: -7, -8, -257
	sign_count	BIGINT NOT NULL DEFAULT 0,
	transports	VARCHAR(255) NOT NULL DEFAULT '[]',	-- JSON array from the response
	backup_eligible	TINYINT(1) NOT NULL DEFAULT 0,
	backed_up	TINYINT(1) NOT NULL DEFAULT 0,
	user_handle	VARBINARY(64) NOT NULL,	-- the WebAuthn user.id the authenticator keeps
	name		VARCHAR(64) NOT NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	last_used_at	DATETIME(6) NULL,
	PRIMARY KEY (id),
	UNIQUE KEY passkeys_credential (credential_id),
	KEY passkeys_user (user_id),
	CONSTRAINT passkeys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

CREATE TABLE IF NOT EXISTS webauthn_challenges (
	id_hash		BINARY(32) NOT NULL,		-- SHA-256 of the challenge_id
	challenge	BINARY(32) NOT NULL,
	purpose		ENUM('register', 'login') NOT NULL,
	user_id		BIGINT NULL,			-- register: the user; login: the named one or NULL
	user_handle	VARBINARY(64) NULL,		-- register: the user.id the options named
	expires_at	DATETIME(6) NOT NULL,
	PRIMARY KEY (id_hash),
	KEY webauthn_challenges_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- sessions.amr: how the sign-in that started a browser session was made, when it was not the
-- password (RFC 8176 values, space-separated): a passkey sign-in writes "hwk mfa" (a key
-- proved in an authenticator that verified its user).  NULL is the password, with a code when
-- the account has two-step verification on.  OpenID Connect reads it for the ID token's amr
-- and acr (oidc.c); a nullable column at the end is added in place.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS amr VARCHAR(32) NULL;
