"""The marketing database: URL resolution, engines, schema and migrations."""
