-- 012_galera: what a database made before the cluster (issue 12) needs to run on Galera.
--
-- Galera accepts a cached sequence only with INCREMENT BY 0, which steps by
-- auto_increment_increment and auto_increment_offset: on one server 1 and 1, as before; on a
-- cluster each node takes its own residue, so two nodes never hand out the same session id.
-- 001 creates it so now; this brings a sequence made by the older 001 to the same.  The
-- other rules hold already: every table has a primary key (001-008), and nothing takes
-- LOCK TABLES or GET_LOCK (usermgr-admin migrate skips its named lock on Galera).
ALTER SEQUENCE session_ids INCREMENT BY 0;
