-- hwb-tui on PostgreSQL: an owner role for the schema, and the application's role, which may
-- only SELECT and INSERT the audit log (never UPDATE, DELETE or TRUNCATE it).
--
-- Run as a superuser (or the database's owner), once, in the database hwb-tui uses:
--   psql -v ON_ERROR_STOP=1 -v app_password="'...'" -v owner_password="'...'" \
--        -d hwb -f deploy/postgresql/roles.sql
-- then create or upgrade the schema as the owner (any hwb-tui command does it on first use):
--   HWB_DATABASE_URL=postgresql+psycopg://hwb_owner:...@db/hwb hwb-tui operators list
-- and run again to grant the application role what the new tables need:
--   psql -v ON_ERROR_STOP=1 -v app_password=... -v owner_password=... -d hwb -f roles.sql
-- The console and the scheduled jobs then connect as hwb_app (database_url in
-- /etc/hwb-tui/config.toml). The audit log's triggers (append-only, no TRUNCATE) belong to the
-- owner; hwb_app cannot drop them, alter the table, or grant itself more.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hwb_owner') THEN
        CREATE ROLE hwb_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hwb_app') THEN
        CREATE ROLE hwb_app LOGIN;
    END IF;
END $$;

ALTER ROLE hwb_owner PASSWORD :owner_password;
ALTER ROLE hwb_app PASSWORD :app_password NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;

-- the schema belongs to the owner; the application may use it but create nothing in it
CREATE SCHEMA IF NOT EXISTS hwb AUTHORIZATION hwb_owner;
ALTER ROLE hwb_owner SET search_path = hwb;
ALTER ROLE hwb_app SET search_path = hwb;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA hwb FROM PUBLIC;
GRANT USAGE ON SCHEMA hwb TO hwb_app;

-- every table: read and write rows (no DDL, no TRUNCATE)...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA hwb TO hwb_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA hwb TO hwb_app;
ALTER DEFAULT PRIVILEGES FOR ROLE hwb_owner IN SCHEMA hwb
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO hwb_app;
ALTER DEFAULT PRIVILEGES FOR ROLE hwb_owner IN SCHEMA hwb
    GRANT USAGE, SELECT ON SEQUENCES TO hwb_app;

-- ...except the audit log: SELECT and INSERT only
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_tables WHERE schemaname = 'hwb' AND tablename = 'auditevent') THEN
        REVOKE ALL ON hwb.auditevent FROM hwb_app;
        GRANT SELECT, INSERT ON hwb.auditevent TO hwb_app;
    END IF;
END $$;
