"""Marketing-ops YAML files validated with pydantic: every problem names the file, the line and the fix.

Both the source config (ingestion) and the rules files (qualification) load
through ``parse_yaml_model``, so a marketer sees one kind of message everywhere:
``config/scoring.yaml, line 30: engagement.half_life_days: Input should be greater than 0;
fix: use a larger number``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
# libyaml's safe loader when installed (ten times faster; DAG files parse campaign files), else PyYAML's.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_HINTS = {
    "extra_forbidden": "remove this key or check its spelling",
    "missing": "add this key",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use lower-case letters, digits, '-', '_' or '.', starting with a letter",
    "greater_than": "use a larger number",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
    "too_short": "add at least one entry",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
}


class ConfigFileError(ValueError):
    """A config file is wrong; the message names file, line and fix (one line per problem)."""


def fix_hint(err: dict[str, Any]) -> str:
    return _HINTS.get(err["type"], "correct the value as the message says")


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree (which records marks) to a 1-based line."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse_yaml_model(
    text: str,
    where: str,
    model: type[M],
    error: type[ConfigFileError] = ConfigFileError,
    example: str = "the documentation",
) -> tuple[M, yaml.Node | None]:
    """Parse and validate YAML text; ``where`` names the file in messages.

    Returns the model and the node tree.
    """
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader: the C one when libyaml is there)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark else "somewhere"
        raise error(
            f"{where}, {line}: not valid YAML ({getattr(exc, 'problem', exc)}); "
            "fix: the indentation or quoting there"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{where}, line 1: expected a mapping of keys; fix: start from the example in {example}")
    try:
        return model.model_validate(data), node
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            field = ".".join(str(p) for p in loc) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}, line {line_of(node, loc)}: {field}: {msg}; fix: {fix_hint(err)}")
        raise error("\n".join(problems)) from None
