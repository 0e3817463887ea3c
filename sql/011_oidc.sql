-- 011_oidc: usermgr as an OpenID Connect provider (issue 14, docs/OIDC.md).
--
-- Clients (relying parties), what each user granted them, single-use authorization codes, the
-- ES256 signing keys' public halves, and which refresh families belong to a client.  Tokens a
-- client gets are the existing refresh families (fcgi/core/refresh.c: rotation, reuse
-- detection, revocation log) with the client's id on the family, not a parallel token system.
-- Every secret is stored as its SHA-256 only (client secrets and codes are 256-bit random
-- values, so a plain hash is as good as a slow one; docs/DECISIONS.md "OpenID Connect").
-- IF NOT EXISTS keeps the script safe to run again.

CREATE TABLE IF NOT EXISTS oauth_clients (
	client_id	VARCHAR(64) NOT NULL,		-- public, random (base64url)
	name		VARCHAR(100) NOT NULL,
	type		ENUM('public', 'confidential') NOT NULL,
	secret_hash	BINARY(32) NULL,		-- SHA-256 of the secret; NULL for public
	redirect_uris	TEXT NOT NULL,			-- JSON array of absolute URLs
	post_logout_redirect_uris TEXT NOT NULL,	-- JSON array of absolute URLs
	scopes		VARCHAR(255) NOT NULL,		-- space-separated scopes it may ask for
	skip_consent	TINYINT(1) NOT NULL DEFAULT 0,	-- first-party: no consent page
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	updated_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (client_id),
	KEY oauth_clients_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- What a user allowed a client to know, until the user revokes it (/account/apps).
CREATE TABLE IF NOT EXISTS oauth_consents (
	user_id		BIGINT NOT NULL,
	client_id	VARCHAR(64) NOT NULL,
	scopes		VARCHAR(255) NOT NULL,		-- space-separated, granted
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	updated_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (user_id, client_id),
	KEY oauth_consents_client (client_id),
	CONSTRAINT oauth_consents_user FOREIGN KEY (user_id) REFERENCES users (id)
	    ON DELETE CASCADE,
	CONSTRAINT oauth_consents_client FOREIGN KEY (client_id) REFERENCES oauth_clients (client_id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- Authorization codes: single use, 60 s.  used_at is set by the first exchange; a second
-- exchange finds it set and revokes family_id, the tokens the first one got (RFC 6749 §4.1.2).
CREATE TABLE IF NOT EXISTS oauth_codes (
	code_hash	BINARY(32) NOT NULL,		-- SHA-256 of the code
	client_id	VARCHAR(64) NOT NULL,
	user_id		BIGINT NOT NULL,
	redirect_uri	VARCHAR(2000) NOT NULL,
	code_challenge	VARCHAR(128) NULL,		-- PKCE S256 challenge
	nonce		VARCHAR(512) NULL,
	scopes		VARCHAR(255) NOT NULL,
	auth_time	BIGINT NOT NULL,		-- Unix time of the sign-in
	amr		VARCHAR(64) NOT NULL,		-- space-separated (pwd otp mfa hwk)
	session_id	BIGINT NOT NULL,		-- browser session (sessions.id) it came from
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	expires_at	DATETIME(6) NOT NULL,
	used_at		DATETIME(6) NULL,
	family_id	BIGINT NULL,			-- refresh family the exchange started
	PRIMARY KEY (code_hash),
	KEY oauth_codes_expires (expires_at),
	CONSTRAINT oauth_codes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
	CONSTRAINT oauth_codes_client FOREIGN KEY (client_id) REFERENCES oauth_clients (client_id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- The ID token signing keys' public halves (JWKS).  The private key is a PEM file named by
-- the kid in USERMGR_SIGNING_KEY_DIR.  current = 1 on the one key that signs (UNIQUE: two
-- workers generating the first key at once cannot both win); a retired key stays published
-- until expires_at, when the last ID token it signed has expired.
CREATE TABLE IF NOT EXISTS oauth_signing_keys (
	kid		VARCHAR(64) NOT NULL,		-- RFC 7638 thumbprint, base64url
	public_jwk	TEXT NOT NULL,
	current		TINYINT(1) NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	retired_at	DATETIME(6) NULL,
	expires_at	DATETIME(6) NULL,
	PRIMARY KEY (kid),
	UNIQUE KEY oauth_signing_keys_current (current)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- A family a client got through the code flow: the client, the scopes granted, and what the
-- sign-in was (for ID tokens issued on refresh).  NULL client_id: an API login as before.
ALTER TABLE refresh_families ADD COLUMN IF NOT EXISTS client_id VARCHAR(64) NULL,
	ADD COLUMN IF NOT EXISTS scopes VARCHAR(255) NULL,
	ADD COLUMN IF NOT EXISTS auth_time BIGINT NULL,
	ADD COLUMN IF NOT EXISTS amr VARCHAR(64) NULL,
	ADD INDEX IF NOT EXISTS refresh_families_client (client_id, user_id);
