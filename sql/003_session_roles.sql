-- 003_session_roles: each browser session keeps the role names it was started with.
--
-- Reading them live took a GROUP_CONCAT subquery over user_roles and roles on every request
-- with a session cookie, which cost about a quarter of /auth/check's throughput (measured in
-- docs/PERFORMANCE.md).  A copy is safe because every change of a user's roles ends all of that
-- user's sessions in the same transaction (the admin API and pages, usermgr-admin set-roles):
-- a session never outlives the roles it holds.  Sessions that exist when this runs get their
-- user's current roles.  IF NOT EXISTS keeps the script safe to run again.

ALTER TABLE sessions ADD COLUMN IF NOT EXISTS roles TEXT NOT NULL DEFAULT ''
	AFTER mfa_pending;

UPDATE sessions s SET s.roles = IFNULL((SELECT GROUP_CONCAT(r.name ORDER BY r.name SEPARATOR ',')
	FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = s.user_id), '');
