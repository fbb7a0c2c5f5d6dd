"""The SQL in ``include/sql/``: loaded by name, one file per statement (two where the dialects differ)."""

from __future__ import annotations

import ast
import re

import pytest

from funnelflow import sql
from funnelflow.cli import main


def _statement_names() -> list[str]:
    return [entry.split(" [")[0] for entry in sql.names()]


def _dialects_of(name: str) -> list[str]:
    """The dialects a statement has a file for (a PostgreSQL-only statement has one)."""
    entry = next(e for e in sql.names() if e.split(" [")[0] == name)
    return entry[len(name) + 2 : -1].split(", ") if " [" in entry else list(sql.DIALECTS)


def test_every_statement_loads_for_each_dialect_and_binds_values_by_name():
    names = _statement_names()
    assert "qualify/changed_leads" in names
    for name in names:
        for dialect in _dialects_of(name):
            text = sql.source(name, dialect)
            assert text.strip(), name
            # Values are bound parameters; nothing in a file is a slot for Python to format text into.
            assert not re.search(r"\{[a-z_]*\}", text), f"{name} holds a format slot"
            # A ":name" in a comment would be taken for a parameter.
            comments = [line for line in text.splitlines() if line.strip().startswith("--")]
            assert not any(re.search(r"(?<!:):[a-z]", line) for line in comments), f"{name}: ':' in a comment"
            assert sql.load(name, dialect) is sql.load(name, dialect)  # cached


def test_unknown_or_unsafe_names_are_refused():
    with pytest.raises(sql.UnknownStatement):
        sql.load("qualify/no_such_statement")
    with pytest.raises(sql.UnknownStatement):
        sql.path_of("../README")


def test_sql_list_and_show(capsys):
    assert main(["sql", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "qualify/changed_leads" in listed
    assert main(["sql", "show", "qualify/changed_leads"]) == 0
    assert capsys.readouterr().out == sql.source("qualify/changed_leads")
    assert main(["sql", "show", "ingest/insert_touchpoints"]) == 0  # both dialects' files, each named
    both = capsys.readouterr().out
    assert (
        "-- ingest/insert_touchpoints.postgresql.sql" in both
        and "-- ingest/insert_touchpoints.sqlite.sql" in both
    )
    assert main(["sql", "show", "email/recipient_facts"]) == 0  # PostgreSQL only
    assert "recipient_facts.postgresql.sql" in capsys.readouterr().out
    assert main(["sql", "show", "ingest/insert_touchpoints", "--dialect", "sqlite"]) == 0
    assert capsys.readouterr().out == sql.source("ingest/insert_touchpoints", "sqlite")
    assert main(["sql", "show", "qualify/nothing"]) == 2
    assert "no SQL file" in capsys.readouterr().err


_SQL_WORDS = re.compile(
    r"\b(select|insert\s+into|update\s+\w+\s+set|delete\s+from|create\s+\w*\s*table)\b", re.I
)


def _sql_constants(tree: ast.Module) -> set[str]:
    """Names bound at module level to a string that reads like SQL."""
    names = set()
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            if _SQL_WORDS.search(node.value.value):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_no_sql_text_is_built_with_format_or_replace():
    offenders = []
    for path in sorted((sql.REPO_ROOT / "funnelflow").rglob("*.py")):
        if {"migrations", "synth"} & set(path.parts):
            continue  # migrations are Alembic's; synth makes test data
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _sql_constants(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in ("format", "replace"):
                continue
            target = node.func.value
            is_sql_literal = isinstance(target, ast.Constant) and _SQL_WORDS.search(str(target.value))
            is_sql_name = isinstance(target, ast.Name) and target.id in constants
            if is_sql_literal or is_sql_name:
                offenders.append(f"{path.relative_to(sql.REPO_ROOT)}:{node.lineno}")
    assert offenders == []
