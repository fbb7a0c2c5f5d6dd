-- One touchpoint per resolved arrival, ids in arrival order. A file's arrivals carry no source_ref or detail:
-- both are made here from the line number (the parameter ref_prefix + the zero-padded line; the archived file
-- and the line). The campaign is the row's, else the source's, else the UTM campaign.
insert into touchpoints (lead_id, occurred_at, channel, touch_type, source, campaign, utm_source, utm_medium,
                         utm_campaign, utm_term, utm_content, page_url, detail, source_ref, scored, created_at)
select p.lead_id, a.occurred_at, :channel, :touch_type, :source,
       substr(coalesce(a.campaign, :campaign, a.utm_campaign), 1, 255), a.utm_source, a.utm_medium,
       a.utm_campaign, a.utm_term, a.utm_content, a.page_url,
       cast(coalesce(a.detail, '{"file":' || :file_json || ',"line":' || a.pos || '}') as jsonb),
       coalesce(a.source_ref, :ref_prefix || lpad(cast(a.pos as text), 10, '0')),
       true, :now
from ingest_arrivals as a
join ingest_people_resolved as p on p.match_key = a.match_key
where p.lead_id is not null
order by a.pos
on conflict do nothing
