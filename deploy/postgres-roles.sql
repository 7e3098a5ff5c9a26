-- The database roles of docker-compose.yml. The postgres image runs this once, as its
-- superuser, when it starts on an empty volume (/docker-entrypoint-initdb.d/); run it
-- yourself elsewhere: psql -v owner=… -v owner_password=… -v service=… \
--   -v service_password=… -d DATABASE -f deploy/postgres-roles.sql
--
--   owner    owns the database and its schema: `incentives migrate` runs as it.
--   service  what the API connects as. It owns nothing; `incentives migrate --grant-to`
--            (or `incentives db grant`) gives it only the statements it uses, and on
--            audit_log only INSERT and SELECT (app/db/privileges.py).
--
-- The defaults are compose's demonstration passwords: set your own anywhere else.

\if :{?owner}
\else
  \set owner incentives_owner
\endif
\if :{?owner_password}
\else
  \set owner_password incentives_owner
\endif
\if :{?service}
\else
  \set service incentives_app
\endif
\if :{?service_password}
\else
  \set service_password incentives_app
\endif

SELECT current_database() AS database \gset

CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"service" LOGIN PASSWORD :'service_password';
ALTER DATABASE :"database" OWNER TO :"owner";
-- PostgreSQL 15 and later already give the public schema to the database's owner and
-- let no one else create in it; said here so that older servers do the same.
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
