-- Empty the stage tables for the next batch (truncate: no dead rows piling up batch after batch).
truncate ingest_people, ingest_all_people, ingest_arrivals, ingest_resolved
