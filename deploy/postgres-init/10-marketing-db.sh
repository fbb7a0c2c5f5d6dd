#!/usr/bin/env bash
# Second database on the same server: the marketing database (the CRM's source of truth).
# Airflow's metadata lives in the `airflow` database that the image creates.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="${MARKETING_DB_PASSWORD:-$POSTGRES_PASSWORD}" <<'SQL'
create role funnelflow login password :'pw';
create database marketing owner funnelflow;
SQL
