"""Files that mix new and known people, by email and by phone, on both backends.

PostgreSQL stages people with an email key apart from the rest and collects every person's lead in one
narrow table; these pin down what that must not change: who is new, who is matched, blanks filled, a
consent only where a person has none, company facts for phone-only people, counts, and a rerun.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import count, rows
from tests.ingest.factories import run_inbox

FIRST = (
    "email,first name,company,phone,consent,industry\n"
    "known@example.com,Kim,Old Co,,yes,\n"  # a known person with a consent
    ",Pat,,+49 30 1111111,,\n"  # a known phone-only person, no consent yet
)

SECOND = (
    "email,first name,company,job title,phone,consent,industry\n"
    "KNOWN@example.com,Kimberly,New Co,CTO,,yes,\n"  # known: blanks filled, names kept, no second consent
    "new@example.com,Nia,Nova,,+49 30 2222222,yes,Software\n"  # new, with a phone
    ",,,,+49 30 2222222,,\n"  # phone-only: the lead the row above just created
    ",Patricia,Pat GmbH,,+49 30 1111111,yes,Retail\n"  # phone-only and known: blanks filled, first consent
    ",Quinn,,,+49 30 3333333,no,\n"  # phone-only and new: a refusal
    "known@example.com,,,,,no,\n"  # the known person refuses: recorded even though a status exists
)


@pytest.mark.parametrize("chunk_rows", [1000, 2])
def test_a_file_mixing_new_and_known_people_by_email_and_phone(
    engine, inbox: Path, config_dir: Path, chunk_rows: int
):
    (inbox / "first.csv").write_text(FIRST, encoding="utf-8")
    [first] = run_inbox(engine, inbox, config_dir, chunk_rows=chunk_rows)
    assert (first.counts.inserted, first.counts.updated) == (2, 0)
    (inbox / "second.csv").write_text(SECOND, encoding="utf-8")
    [report] = run_inbox(engine, inbox, config_dir, chunk_rows=chunk_rows)

    # new@ and Quinn are new; the rest reach a lead that existed or that an earlier row created
    assert report.counts.as_dict() == {
        "rows_in": 6,
        "inserted": 2,
        "updated": 4,
        "rejected": 0,
        "duplicates": 0,
    }
    leads = {(r["email_key"] or r["phone_e164"]): r for r in rows(engine, "select * from leads order by id")}
    assert set(leads) == {"known@example.com", "+49301111111", "new@example.com", "+49303333333"}
    known, pat, new = leads["known@example.com"], leads["+49301111111"], leads["new@example.com"]
    assert (known["first_name"], known["company"], known["job_title"]) == ("Kim", "Old Co", "CTO")
    assert (pat["first_name"], pat["company"]) == ("Pat", "Pat GmbH")
    assert (new["first_name"], new["phone_e164"]) == ("Nia", "+49302222222")
    # company facts: blanks only, the first value of the batch, also for a phone-only person
    assert (new["industry"], pat["industry"], known["industry"]) == ("Software", "Retail", None)

    touches = rows(engine, "select lead_id, source_ref from touchpoints order by id")
    per_lead = {}
    for t in touches:
        per_lead[t["lead_id"]] = per_lead.get(t["lead_id"], 0) + 1
    assert per_lead == {known["id"]: 3, pat["id"]: 2, new["id"]: 2, leads["+49303333333"]["id"]: 1}
    assert len({t["source_ref"] for t in touches}) == len(touches) == 8

    consents = sorted(
        (r["lead_id"], r["status"]) for r in rows(engine, "select lead_id, status from consents")
    )
    assert consents == sorted(
        [
            (known["id"], "granted"),  # from the first file; the second's grant adds none
            (known["id"], "denied"),  # a refusal is recorded even though a status exists
            (pat["id"], "granted"),  # known, but no status yet
            (new["id"], "granted"),
            (leads["+49303333333"]["id"], "denied"),
        ]
    )


def test_the_same_people_again_in_another_file_add_touchpoints_and_nothing_else(
    engine, inbox: Path, config_dir: Path
):
    (inbox / "second.csv").write_text(SECOND, encoding="utf-8")
    [first] = run_inbox(engine, inbox, config_dir)
    assert first.counts.rejected == 0
    before = {table: count(engine, table) for table in ("leads", "consents", "suppressions")}
    leads_before = rows(engine, "select * from leads order by id")

    # the same rows in another order: other content, the same people
    lines = SECOND.splitlines()
    (inbox / "again.csv").write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8")
    [again] = run_inbox(engine, inbox, config_dir)
    assert again.status == "ingested"
    assert (again.counts.inserted, again.counts.updated, again.counts.rejected) == (0, 6, 0)
    assert {table: count(engine, table) for table in ("leads", "suppressions")} == {
        "leads": before["leads"],
        "suppressions": before["suppressions"],
    }
    # granted people keep their one grant; the two refusals are recorded again (an import may always refuse)
    assert count(engine, "consents") == before["consents"] + 2 == 7
    assert count(engine, "touchpoints") == 12
    after = rows(engine, "select * from leads order by id")
    keep = ("id", "email_key", "first_name", "company", "job_title", "phone_e164", "industry")
    assert [{k: r[k] for k in keep} for r in after] == [{k: r[k] for k in keep} for r in leads_before]

    # and the very same file once more: recognised by its content, nothing written
    archived = next((inbox / "archive").glob("*-again.csv"))
    (inbox / "again-copy.csv").write_bytes(archived.read_bytes())
    [copy] = run_inbox(engine, inbox, config_dir)
    assert copy.status == "duplicate_content"
    assert count(engine, "touchpoints") == 12
    assert count(engine, "consents") == 7
