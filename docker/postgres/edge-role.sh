#!/bin/sh
# First start of the database: a login role for the SIP edge. It is granted
# read access to the three device columns it needs once the gateway's
# migrations have created the table (the edge-grant service of compose.yaml).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$EDGE_DB_PASSWORD" <<'SQL'
CREATE ROLE edge LOGIN PASSWORD :'password';
SQL
