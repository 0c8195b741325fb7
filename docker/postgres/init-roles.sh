#!/bin/sh
# Runs once, when the PostgreSQL data directory is first initialised (docker-entrypoint-initdb.d).
# Creates the owner role and the database it owns. Everything else is done by `cli migrate`, run as
# this owner (DATABASE_ADMIN_URL), the same way as `npm run dev` does it:
#   - it creates the group roles aigateway_app (application: no BYPASSRLS, owns nothing) and
#     aigateway_system (cross-tenant system work), which is why the owner has CREATEROLE;
#   - it lets the users of DATABASE_URL and DATABASE_SYSTEM_URL log in as those roles, with the
#     passwords in those URLs.
# In production, where a DBA may refuse CREATEROLE, create aigateway_app and aigateway_system
# (NOLOGIN NOSUPERUSER NOBYPASSRLS) and the login roles yourself; migrate then only checks them.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$AIGATEWAY_OWNER_PASSWORD" <<'SQL'
CREATE ROLE aigateway_owner LOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOBYPASSRLS PASSWORD :'owner_password';
CREATE DATABASE aigateway OWNER aigateway_owner;
SQL
