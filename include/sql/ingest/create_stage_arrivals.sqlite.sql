-- The batch's arrivals, one row per row that came in (temporary: this connection only): its touchpoint,
-- consent and do-not-email facts, and the match_key of its person in ingest_people.
create temporary table if not exists ingest_arrivals (
    pos bigint, match_key varchar(400), occurred_at varchar(40), campaign varchar(255), utm_source varchar(255),
    utm_medium varchar(255), utm_campaign varchar(255), utm_term varchar(255), utm_content varchar(255),
    page_url text, detail text, source_ref varchar(255), consent_status varchar(20), legal_basis varchar(40),
    client_ip varchar(45), dne_hash varchar(64)
)
