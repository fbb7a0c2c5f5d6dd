"""Segments: one declarative filter language for picking people, compiled to one SQL statement.

Campaigns use it for their audience (and later webinar invitations and retention):

```yaml
all:                                   # every condition holds
  - lifecycle_stage: [lead, mql]       # a list means "in"
  - engagement_score: {gte: 20}        # or {in, not_in, gte, lte}
  - industry: [Software]               # the lead's account
  - engaged: {within_days: 30, touch_types: [email_click, form_fill]}
  - touched: {campaign: webinar-2026-10, touch_types: [webinar_attended]}
any: [...]                             # at least one holds
none:                                  # none holds
  - received: {campaign: spring-newsletter, within_days: 14}
```

Semantics: ``all``, ``any`` and ``none`` combine with AND, and an item may itself
be an ``{all|any|none: [...]}`` group. A condition on a missing value is false
(so ``none: [industry: [...]]`` keeps a lead without an account). Text compares
case-insensitively. ``within_days: N`` is the N×24 hours before the as-of time,
and nothing after the as-of time counts. ``engaged``/``touched`` count only
scored touches (machine opens and scanner clicks never count); ``received``
counts ledger rows of that campaign that were sent, by ``sent_at``. Merged-away
and erased leads are never in a segment. Consent, suppressions and the cap are
the sending layer's business, not the segment's.

The models import no SQLAlchemy, so a DAG file can validate a campaign at parse
time; ``compile_segment`` imports it when called.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    import sqlalchemy as sa

# name -> (table, column, numeric?)
LEAD_FIELDS: dict[str, tuple[str, bool]] = {
    "lifecycle_stage": ("lifecycle_stage", False),
    "fit_grade": ("fit_grade", False),
    "fit_score": ("fit_score", True),
    "engagement_score": ("engagement_score", True),
    "country": ("country", False),
    "seniority": ("seniority", False),
    "department": ("department", False),
    "email_domain": ("email_domain", False),
    "original_source": ("original_source", False),
}
ACCOUNT_FIELDS: dict[str, tuple[str, bool]] = {
    "industry": ("industry", False),
    "employee_band": ("employee_band", False),
    "revenue_band": ("revenue_band", False),
    "region": ("region", False),
}
TOUCH_CONDITIONS = ("engaged", "touched")
GROUPS = ("all", "any", "none")
# Ledger states of a message that was sent ("sent or later").
SENT_STATES = ("sent", "delivered", "bounced", "dropped")

Scalar = str | int | float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ops(_Strict):
    """``{in, not_in, gte, lte}``; every given operator must hold."""

    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    not_in: list[Scalar] | None = Field(default=None, min_length=1)
    gte: float | None = None
    lte: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_operator(self) -> Ops:
        if self.in_ is None and self.not_in is None and self.gte is None and self.lte is None:
            raise ValueError("give at least one operator: in, not_in, gte or lte")
        return self


def _touch_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    from funnelflow.db.schema import TOUCH_TYPES  # lazily: the schema module imports SQLAlchemy

    bad = [t for t in value if t not in TOUCH_TYPES]
    if bad:
        raise ValueError(f"unknown touch type(s) {bad}; use some of {list(TOUCH_TYPES)}")
    return value


class TouchTest(_Strict):
    """``engaged``/``touched``: a scored touch of these types (and campaign) in the window."""

    within_days: float | None = Field(default=None, gt=0)
    touch_types: list[str] | None = Field(default=None, min_length=1)
    campaign: str | None = Field(default=None, min_length=1)

    _check_types = field_validator("touch_types")(classmethod(lambda cls, v: _touch_types(v)))


class ReceivedTest(_Strict):
    """``received``: a message of this campaign was sent to the lead (in the window)."""

    campaign: str = Field(min_length=1)
    within_days: float | None = Field(default=None, gt=0)


class Condition(_Strict):
    """One list item: exactly one condition, or a nested ``all``/``any``/``none`` group."""

    all: list[Condition] | None = None
    any: list[Condition] | None = None
    none: list[Condition] | None = None
    engaged: TouchTest | None = None
    touched: TouchTest | None = None
    received: ReceivedTest | None = None
    # lead and account fields: a list (in) or Ops
    lifecycle_stage: list[Scalar] | Ops | None = None
    fit_grade: list[Scalar] | Ops | None = None
    fit_score: list[Scalar] | Ops | None = None
    engagement_score: list[Scalar] | Ops | None = None
    country: list[Scalar] | Ops | None = None
    seniority: list[Scalar] | Ops | None = None
    department: list[Scalar] | Ops | None = None
    email_domain: list[Scalar] | Ops | None = None
    original_source: list[Scalar] | Ops | None = None
    industry: list[Scalar] | Ops | None = None
    employee_band: list[Scalar] | Ops | None = None
    revenue_band: list[Scalar] | Ops | None = None
    region: list[Scalar] | Ops | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"each list item holds exactly one condition, this one has {given or 'none'}; "
                "split it into separate items (or group them under all/any/none)"
            )
        key = given[0]
        if key == "engaged" and self.engaged.within_days is None:  # type: ignore[union-attr]
            raise ValueError("engaged needs within_days (use touched for any time)")
        if key == "touched" and self.touched.campaign is None:  # type: ignore[union-attr]
            raise ValueError("touched needs a campaign (use engaged for any campaign)")
        spec = LEAD_FIELDS.get(key) or ACCOUNT_FIELDS.get(key)
        value = getattr(self, key)
        if (
            spec
            and not spec[1]
            and isinstance(value, Ops)
            and (value.gte is not None or value.lte is not None)
        ):
            raise ValueError(f"{key} is text: use a list, in or not_in (gte/lte are for numbers)")
        return self

    @property
    def key(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)


class Segment(_Strict):
    """The top level: ``all``, ``any`` and ``none``, combined with AND."""

    all: list[Condition] = Field(default_factory=list)
    any: list[Condition] = Field(default_factory=list)
    none: list[Condition] = Field(default_factory=list)


# --- compiling ---------------------------------------------------------------------------------------


def _lower_values(values: list[Scalar]) -> list[str]:
    return [str(v).lower() for v in values]


def _field_test(column: sa.ColumnElement, numeric: bool, value: list[Scalar] | Ops) -> sa.ColumnElement[bool]:
    """A value test that is false (never NULL) on a missing value, so NOT of it keeps the lead."""
    import sqlalchemy as sa

    ops = value if isinstance(value, Ops) else Ops(**{"in": value})
    target = column if numeric else sa.func.lower(column)
    parts: list[sa.ColumnElement[bool]] = [column.is_not(None)]
    if ops.in_ is not None:
        parts.append(target.in_([float(v) for v in ops.in_] if numeric else _lower_values(ops.in_)))
    if ops.not_in is not None:
        parts.append(target.not_in([float(v) for v in ops.not_in] if numeric else _lower_values(ops.not_in)))
    if ops.gte is not None:
        parts.append(column >= ops.gte)
    if ops.lte is not None:
        parts.append(column <= ops.lte)
    return sa.and_(*parts)


def _condition(c: Condition, as_of: datetime, leads, accounts) -> sa.ColumnElement[bool]:
    import sqlalchemy as sa

    from funnelflow.db.schema import email_sends, touchpoints

    key = c.key
    if key in GROUPS:
        return _group(key, getattr(c, key), as_of, leads, accounts)
    if key in LEAD_FIELDS:
        name, numeric = LEAD_FIELDS[key]
        return _field_test(leads.c[name], numeric, getattr(c, key))
    if key in ACCOUNT_FIELDS:
        name, numeric = ACCOUNT_FIELDS[key]
        return _field_test(accounts.c[name], numeric, getattr(c, key))
    if key in TOUCH_CONDITIONS:
        t: TouchTest = getattr(c, key)
        where = [
            touchpoints.c.lead_id == leads.c.id,
            touchpoints.c.scored.is_(True),
            touchpoints.c.occurred_at <= as_of,
        ]
        if t.within_days is not None:
            where.append(touchpoints.c.occurred_at > as_of - timedelta(days=t.within_days))
        if t.touch_types:
            where.append(touchpoints.c.touch_type.in_(t.touch_types))
        if t.campaign:
            where.append(sa.func.lower(touchpoints.c.campaign) == t.campaign.lower())
        return sa.exists().where(*where)
    r: ReceivedTest = c.received  # type: ignore[assignment]
    where = [
        email_sends.c.lead_id == leads.c.id,
        sa.func.lower(email_sends.c.campaign_id) == r.campaign.lower(),
        email_sends.c.status.in_(SENT_STATES),
        email_sends.c.sent_at <= as_of,
    ]
    if r.within_days is not None:
        where.append(email_sends.c.sent_at > as_of - timedelta(days=r.within_days))
    return sa.exists().where(*where)


def _group(kind: str, items: list[Condition], as_of: datetime, leads, accounts) -> sa.ColumnElement[bool]:
    import sqlalchemy as sa

    tests = [_condition(i, as_of, leads, accounts) for i in items]
    if kind == "all":
        return sa.and_(sa.true(), *tests)
    if kind == "any":
        return sa.or_(*tests) if tests else sa.true()  # an empty `any` does not restrict
    return sa.not_(sa.or_(*tests)) if tests else sa.true()


def compile_segment(segment: Segment, as_of: datetime) -> sa.Select:
    """One ``SELECT leads.id`` (ordered by id) for everyone in the segment as of ``as_of``."""
    import sqlalchemy as sa

    from funnelflow.db.schema import accounts, leads

    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return (
        sa.select(leads.c.id)
        .select_from(leads.outerjoin(accounts, accounts.c.id == leads.c.account_id))
        .where(
            leads.c.merged_into_id.is_(None),
            leads.c.erased_at.is_(None),
            _group("all", segment.all, as_of, leads, accounts),
            _group("any", segment.any, as_of, leads, accounts),
            _group("none", segment.none, as_of, leads, accounts),
        )
        .order_by(leads.c.id)
    )


def segment_sql(segment: Segment, as_of: datetime, dialect: str) -> tuple[str, dict[str, Any]]:
    """The statement as the given backend receives it, and its bound parameters (values are never inlined)."""
    from sqlalchemy.dialects import postgresql, sqlite

    compiled = compile_segment(segment, as_of).compile(
        dialect=(postgresql if dialect == "postgresql" else sqlite).dialect(),
        compile_kwargs={"render_postcompile": True},  # one placeholder per listed value, as sent
    )
    return str(compiled), dict(compiled.params)
