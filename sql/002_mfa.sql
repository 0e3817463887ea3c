-- 002_mfa: the last TOTP time step each user spent, so a code cannot be used twice in its window.
--
-- RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP after the successful
-- validation has been issued for the first OTP".  NULL: no code accepted yet.  IF NOT EXISTS keeps
-- the script safe to run again.

ALTER TABLE users ADD COLUMN IF NOT EXISTS mfa_last_step BIGINT NULL AFTER mfa_enabled_at;
