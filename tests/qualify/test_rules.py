"""Rules files: errors name file, line and fix; a broken edit leaves the last good rules running; dry run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from funnelflow.qualify.normalize import department_of, seniority_of
from funnelflow.qualify.rules import RulesError, load_active_rules, load_rules
from tests.factories import AS_OF, REPO, touch
from tests.qualify.factories import add_lead, lead_row

BAD_EDITS = {
    # (replace, with) in scoring.yaml -> what the error must say
    "negative half-life": (
        ("half_life_days: 30", "half_life_days: -3"),
        ("line 30", "engagement.half_life_days", "fix:"),
    ),
    "unknown seniority": (
        ("in: [manager]", "in: [boss]"),
        ("line 13", "unknown seniority value(s) ['boss']", "fix:"),
    ),
    "unknown touch type": (
        ("    page_view: 1\n", "    page_visit: 1\n"),
        ("engagement.points", "page_visit", "fix:"),
    ),
    "grades out of order": (
        ("    A: 60", "    A: 30"),
        ("line 25", "grade bars must fall A > B > C", "fix:"),
    ),
    # The parser notices the open bracket on the line after it (computed: the file grows).
    "bad YAML": (
        ("  mql_threshold: 60 ", "  mql_threshold: [60 "),
        ("line {after:mql_threshold}", "not valid YAML", "fix"),
    ),
}


def _config(tmp_path: Path, edit=None) -> Path:
    folder = tmp_path / "config"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("scoring.yaml", "sales_rules.yaml"):
        shutil.copy(REPO / "config" / name, folder / name)
    if edit:
        path = folder / "scoring.yaml"
        text = path.read_text()
        assert edit[0] in text, edit
        path.write_text(text.replace(*edit))
    return folder


@pytest.mark.parametrize("case", sorted(BAD_EDITS))
def test_a_wrong_rules_file_names_the_file_the_line_and_the_fix(tmp_path, case):
    edit, expected = BAD_EDITS[case]
    folder = _config(tmp_path, edit)
    with pytest.raises(RulesError) as err:
        load_rules(folder)
    message = str(err.value)
    assert str(folder / "scoring.yaml") in message
    lines = (REPO / "config" / "scoring.yaml").read_text().splitlines()
    after = {"mql_threshold": 2 + next(i for i, line in enumerate(lines) if "mql_threshold:" in line)}
    for part in expected:
        part = re.sub(r"\{after:(\w+)\}", lambda m: str(after[m.group(1)]), part)
        assert part in message, (part, message)


def test_sql_rules_may_only_name_high_intent_pages_marketing_defined(tmp_path):
    folder = _config(tmp_path)
    sales = folder / "sales_rules.yaml"
    sales.write_text(
        sales.read_text().replace("recent_actions: [demo_request]", "recent_actions: [demo_requets]")
    )
    with pytest.raises(RulesError, match=r"sales_rules.yaml, line 10: .*demo_requets.*fix: use some of"):
        load_rules(folder)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_broken_edit_keeps_the_last_good_rules_running(engine, tmp_path):
    good = load_active_rules(engine, _config(tmp_path / "good"))
    assert good.problem is None
    broken = _config(tmp_path / "broken", ("mql_threshold: 60", "mql_threshold: sixty"))
    active = load_active_rules(engine, broken)
    assert active.rules.version == good.rules.version
    assert "mql_threshold" in active.problem and "line" in active.problem


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_broken_rules_with_no_last_good_ones_stop_the_run(engine, tmp_path):
    with pytest.raises(RulesError):
        load_active_rules(engine, _config(tmp_path, ("mql_threshold: 60", "mql_threshold: sixty")))


def test_dry_run_reports_what_a_changed_file_would_do_without_writing(
    engine, marketing_db_env, tmp_path, capsys, rules
):
    from funnelflow.cli import main
    from funnelflow.qualify.score import score_and_stage

    lead_id = add_lead(engine, "ic@nowhere.example")
    for _ in range(4):
        touch(engine, lead_id, "form_fill", 0, "https://www.example.com/contact")  # 40
    score_and_stage(engine, rules, as_of=AS_OF)
    assert lead_row(engine, lead_id).lifecycle_stage == "lead"
    folder = _config(tmp_path, ("mql_threshold: 60", "mql_threshold: 30"))
    code = main(["rules", "dry-run", str(folder / "scoring.yaml"), "--as-of", AS_OF.isoformat()])
    out = capsys.readouterr().out
    assert code == 0
    assert "stage would change:          1" in out
    assert "lead -> mql                          1" in out
    assert "  mql                    0 ->         1" in out
    assert lead_row(engine, lead_id).lifecycle_stage == "lead"  # nothing written

    bad = _config(tmp_path / "bad", ("half_life_days: 30", "half_life_days: -3"))
    assert main(["rules", "dry-run", str(bad / "scoring.yaml")]) == 2
    assert "scoring.yaml, line 30" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("title", "seniority", "department"),
    [
        ("Chief Marketing Officer", "c_level", "marketing"),
        ("Vice President, Demand Generation", "vp", "marketing"),
        ("Head of Sales", "director", "sales"),
        ("Marketingleiterin", "director", "marketing"),
        ("Senior Software Engineer", "individual_contributor", "engineering"),
        ("Werkstudent Marketing", "student", "marketing"),
        ("Account Executive", "individual_contributor", "sales"),
        ("Geschäftsführer", "c_level", "executive"),
        ("Project Manager", "manager", "operations"),
    ],
)
def test_job_titles_map_to_seniority_and_department(title, seniority, department):
    assert (seniority_of(title), department_of(title)) == (seniority, department)


def test_email_flags_and_phone_normalization():
    from funnelflow.identity import phone_e164
    from funnelflow.qualify.normalize import check_email, clean_name

    role = check_email("info@mailinator.com")
    assert (role.free, role.disposable, role.role) == (False, True, True)
    free = check_email("jane@gmail.com")
    assert (free.status, free.free, free.disposable, free.role) == ("valid", True, False, False)
    assert check_email("jane@@acme").status == "invalid"
    assert phone_e164("030 1234567", "DE") == "+49301234567"
    assert phone_e164("(415) 555-2671", "US") == "+14155552671"
    assert phone_e164("12", "US") is None
    assert clean_name("  JANE   o'NEIL ") == "JANE o'NEIL" and clean_name("jane doe") == "Jane Doe"


def test_show_sql_prints_the_generated_statement_with_rule_values_bound(capsys):
    from funnelflow.cli import main

    assert main(["rules", "show-sql"]) == 0
    sql = capsys.readouterr().out
    assert "exp(" in sql and "jsonb_build_object" in sql and "GROUP BY touchpoints.lead_id" in sql
    assert "/pricing" not in sql and "%(" in sql  # the page pattern is a bound parameter, not text
