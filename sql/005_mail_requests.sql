-- 005_mail_requests: the mail a requester asked for, recorded by the worker, handled by the mailer.
--
-- Forgot-password and verification resend are requests from someone who is not signed in.
-- The worker answers them with one INSERT here, whatever the address: whether an account has
-- it, and so whether a link is made, rendered and queued, is found out by usermgr-mailer, off
-- the request path, so the answer's time tells nothing (hardening item 8).  The mailer
-- deletes each row in the transaction that handles it, normally within half a second: the
-- table holds an address (and the requester's IP for the audit event) only while it waits.
-- No token is ever stored here.  IF NOT EXISTS keeps the script safe to run again.

CREATE TABLE IF NOT EXISTS mail_requests (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	kind		ENUM('reset', 'verify') NOT NULL,
	email		VARCHAR(254) NOT NULL,
	ip		VARCHAR(45) NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
	PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
