"""The weekly funnel report: an HTML email with inline charts and CSVs, also saved as files.

``build_report`` reads the stored result tables (it never recomputes a figure), draws the
charts (matplotlib, Agg, the Okabe-Ito colour-blind-safe palette) and renders
``templates/email/weekly_funnel_report.*`` twice: for the email (images as ``cid:`` parts) and
for ``FUNNELFLOW_HOME/reports/YYYY-Www/report.html`` (images beside it), so the file opens in a
browser as the message does in a mail client; the ``.eml`` is saved beside it. ``send_report``
sends it through the sending layer (ledger included) with the message key
``weekly_funnel_report:YYYY-Www``: each stakeholder gets each week's report once, however often
the task is retried or rerun.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from funnelflow import settings
from funnelflow.db.schema import (
    ATTRIBUTION_MODELS,
    VELOCITY_TRANSITIONS,
    attribution_weekly,
    email_weekly,
    funnel_cohorts,
    funnel_velocity,
    funnel_weekly,
    retention_weekly,
    sla_rejections_weekly,
    sla_weekly,
    webinar_weekly,
)
from funnelflow.email import render
from funnelflow.email.send import Attachment, Mailing, Recipient, SendReport, send_mailing, sender_address
from funnelflow.email.transports import Transport, expand
from funnelflow.metrics import format as fmt
from funnelflow.metrics.compute import COMPUTED_TABLES, computed_weeks
from funnelflow.metrics.weeks import Week
from funnelflow.sales.feedback import REJECT_REASON_LABELS

TEMPLATE = "weekly_funnel_report"
TREND_WEEKS = 12
FIGURES = (
    "new_leads",
    "mql",
    "sql",
    "opportunity",
    "customer",
    "recycled",
    "disqualified",
    "accepted",
    "rejected",
    "won_revenue",
)
MONEY = ("won_revenue",)
LABELS = {
    "new_leads": "New leads",
    "mql": "MQLs",
    "sql": "SQLs",
    "opportunity": "Opportunities",
    "customer": "Customers",
    "recycled": "Recycled",
    "disqualified": "Disqualified",
    "accepted": "Handoffs accepted",
    "rejected": "Handoffs rejected",
    "won_revenue": "Won revenue",
}
FUNNEL = ("new_leads", "mql", "sql", "opportunity", "customer")
TREND = ("new_leads", "mql", "sql", "customer")
MODEL_LABELS = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "linear": "Linear",
    "u_shaped": "U-shaped",
    "w_shaped": "W-shaped",
}
# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def message_key(week: Week) -> str:
    return f"{TEMPLATE}:{week.iso}"


def report_dir(week: Week) -> Path:
    return settings.funnelflow_home() / "reports" / week.iso


@dataclass
class Report:
    week: Week
    context: dict[str, Any]
    charts: dict[str, bytes]  # file stem -> PNG
    csvs: dict[str, bytes]  # file name -> CSV
    email: render.Rendered
    file_html: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- reading


def _figures(row: Any) -> dict[str, float]:
    return {f: (float if f in MONEY else int)(getattr(row, f) or 0) for f in FIGURES}


def _show(figure: str, value: float | None) -> str:
    return fmt.money(value) if figure in MONEY else fmt.count(value)


def _funnel_by_week(conn: sa.Connection, weeks: Sequence[Week]) -> dict[date, dict[str, int] | None]:
    """'all' volumes per week; a computed week without a row had no activity (zeros); None = not computed."""
    starts = [w.start for w in weeks]
    found = {
        r.week_start: _figures(r)
        for r in conn.execute(
            sa.select(funnel_weekly).where(
                funnel_weekly.c.week_start.in_(starts), funnel_weekly.c.dimension == "all"
            )
        )
    }
    done = computed_weeks(conn, weeks)
    zeros = dict.fromkeys(FIGURES, 0)
    return {s: found.get(s, zeros) if s in done else None for s in starts}


def _by_value(conn: sa.Connection, week: Week, dimension: str) -> dict[str, dict[str, int]]:
    return {
        r.value: _figures(r)
        for r in conn.execute(
            sa.select(funnel_weekly).where(
                funnel_weekly.c.week_start == week.start, funnel_weekly.c.dimension == dimension
            )
        )
    }


def _average(weeks: list[dict[str, int] | None]) -> dict[str, float] | None:
    present = [w for w in weeks if w is not None]
    if not present:
        return None
    return {f: sum(w[f] for w in present) / len(present) for f in FIGURES}


def collect(conn: sa.Connection, week: Week) -> dict[str, Any]:
    """Everything the report shows, read from the result tables (raw numbers; formatting comes later)."""
    trend_weeks = [week.shift(i - TREND_WEEKS + 1) for i in range(TREND_WEEKS)]
    by_week = _funnel_by_week(conn, trend_weeks)
    this, last = by_week[week.start], by_week[week.shift(-1).start]
    average = _average([by_week[week.shift(-i).start] for i in range(1, 5)])
    channels = _by_value(conn, week, "channel")
    channels_last = _by_value(conn, week.shift(-1), "channel")
    attribution: dict[str, dict[str, dict[str, float]]] = {"sql": {}, "customer": {}}
    for r in conn.execute(sa.select(attribution_weekly).where(attribution_weekly.c.week_start == week.start)):
        by_model = attribution[r.conversion].setdefault(r.channel, {})
        by_model[r.model] = by_model.get(r.model, 0.0) + float(r.credit)  # the campaigns of a channel, summed
    velocity = {
        r.transition: r
        for r in conn.execute(sa.select(funnel_velocity).where(funnel_velocity.c.week_start == week.start))
    }
    cohorts = {
        r.cohort_week_start: r
        for r in conn.execute(
            sa.select(funnel_cohorts).where(
                funnel_cohorts.c.week_start == week.start, funnel_cohorts.c.dimension == "all"
            )
        )
    }
    email = list(
        conn.execute(
            sa.select(email_weekly)
            .where(email_weekly.c.week_start == week.start)
            .order_by(email_weekly.c.sent.desc(), email_weekly.c.campaign)
        )
    )
    sla = list(
        conn.execute(
            sa.select(sla_weekly)
            .where(sla_weekly.c.week_start == week.start)
            .order_by(sla_weekly.c.team, sla_weekly.c.rep_id)
        )
    )
    rejections = list(
        conn.execute(
            sa.select(sla_rejections_weekly)
            .where(
                sla_rejections_weekly.c.week_start == week.start,
                sla_rejections_weekly.c.dimension.in_(("all", "channel")),
            )
            .order_by(sla_rejections_weekly.c.reason, sla_rejections_weekly.c.value)
        )
    )
    webinars = list(
        conn.execute(
            sa.select(webinar_weekly)
            .where(webinar_weekly.c.week_start == week.start)
            .order_by(webinar_weekly.c.webinar_id)
        )
    )
    retention = conn.execute(
        sa.select(retention_weekly).where(retention_weekly.c.week_start == week.start)
    ).first()
    return {
        "sla": sla,
        "rejections": rejections,
        "webinars": webinars,
        "retention": retention,
        "trend_weeks": trend_weeks,
        "by_week": by_week,
        "this": this,
        "last": last,
        "average": average,
        "channels": channels,
        "channels_last": channels_last,
        "attribution": attribution,
        "velocity": velocity,
        "cohorts": cohorts,
        "email": email,
    }


# --------------------------------------------------------------------------- shaping for people


def _movers(now: dict[str, dict[str, int]], before: dict[str, dict[str, int]], limit: int = 5) -> list[dict]:
    """Channels whose new leads or SQLs moved most against last week, biggest absolute change first."""
    moves = []
    for channel in sorted(set(now) | set(before)):
        for figure in ("sql", "new_leads"):
            a = now.get(channel, {}).get(figure, 0)
            b = before.get(channel, {}).get(figure, 0)
            if a != b:
                moves.append((abs(a - b), channel, figure, a, b))
    moves.sort(key=lambda m: (-m[0], m[1], m[2]))
    return [
        {"channel": c, "figure": LABELS[f], "now": fmt.count(a), "change": fmt.change(a, b)}
        for _, c, f, a, b in moves[:limit]
    ]


def shape(data: dict[str, Any], week: Week) -> dict[str, Any]:
    """The template's context: every number already formatted for people."""
    this, last, average = data["this"], data["last"], data["average"]
    key_numbers = [
        {
            "label": LABELS[f],
            "this": _show(f, this[f] if this else None),
            "last": _show(f, last[f] if last else None),
            "change": fmt.change(this[f] if this else None, last[f] if last else None, as_money=f in MONEY),
            "average": _show(f, average[f] if average else None),
        }
        for f in FIGURES
    ]
    channels = [
        {
            "channel": channel,
            "new_leads": fmt.count(v["new_leads"]),
            "mql": fmt.count(v["mql"]),
            "sql": fmt.count(v["sql"]),
            "customer": fmt.count(v["customer"]),
            "sql_rate": fmt.percent(fmt.ratio(v["sql"], v["new_leads"])),
            "win_rate": fmt.percent(fmt.ratio(v["customer"], v["sql"])),
            "won_revenue": fmt.money(v["won_revenue"]),
        }
        for channel, v in sorted(data["channels"].items(), key=lambda kv: (-kv[1]["sql"], kv[0]))
    ]
    attribution = {
        conversion: [
            {"channel": ch, "credits": [fmt.credit(models.get(m, 0.0)) for m in ATTRIBUTION_MODELS]}
            for ch, models in sorted(by_channel.items(), key=lambda kv: (-kv[1].get("w_shaped", 0.0), kv[0]))
        ]
        for conversion, by_channel in data["attribution"].items()
    }
    velocity = []
    for t in VELOCITY_TRANSITIONS:
        r = data["velocity"].get(t)
        velocity.append(
            {
                "transition": t.replace("_", " → ").replace("mql", "MQL").replace("sql", "SQL"),
                "leads": fmt.count(r.leads if r else None),
                "median": fmt.days(r.median_days if r else None),
                "p90": fmt.days(r.p90_days if r else None),
            }
        )
    cohorts = []
    for w in data["trend_weeks"]:
        r = data["cohorts"].get(w.start)
        leads = r.leads if r else 0
        cohorts.append(
            {
                "week": w.iso,
                "leads": fmt.count(leads),
                "mql": fmt.percent(fmt.ratio(r.mql if r else 0, leads)),
                "sql": fmt.percent(fmt.ratio(r.sql if r else 0, leads)),
                "customer": fmt.percent(fmt.ratio(r.customer if r else 0, leads)),
            }
        )
    email = [
        {
            "campaign": r.campaign,
            "sent": fmt.count(r.sent),
            "delivered": fmt.percent(fmt.ratio(r.delivered, r.sent)),
            "opens": fmt.percent(fmt.ratio(r.unique_opens, r.delivered)),
            "clicks": fmt.percent(fmt.ratio(r.unique_clicks, r.delivered)),
            "unsubscribes": fmt.count(r.unsubscribes),
            "spam_reports": fmt.count(r.spam_reports),
            "bounced": fmt.count(r.bounced),
        }
        for r in data["email"]
    ]
    sla = [
        {
            "team": r.team,
            "rep": r.rep_id,
            "due": fmt.count(r.items_due),
            "met": fmt.count(r.met),
            "breached": fmt.count(r.breached),
            "compliance": fmt.percent(fmt.ratio(r.met, r.met + r.breached)),
            "median_hours": fmt.hours(r.median_business_hours_to_first_action),
        }
        for r in data["sla"]
    ]
    met = sum(r.met for r in data["sla"])
    decided = met + sum(r.breached for r in data["sla"])
    reasons: dict[str, dict[str, int]] = {}
    for r in data["rejections"]:
        by = reasons.setdefault(r.reason, {})
        by["(all)" if r.dimension == "all" else r.value] = r.rejected
    rejections = [
        {
            "reason": REJECT_REASON_LABELS.get(reason, reason),
            "total": fmt.count(by.get("(all)", 0)),
            "by_channel": ", ".join(
                f"{ch} {fmt.count(n)}"
                for ch, n in sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))
                if ch != "(all)"
            ),
        }
        for reason, by in sorted(reasons.items(), key=lambda kv: (-kv[1].get("(all)", 0), kv[0]))
    ]
    webinars = [
        {
            "webinar": r.webinar_name or r.webinar_id,
            "invited": fmt.count(r.invited),
            "registered": fmt.count(r.registered),
            "waitlisted": fmt.count(r.waitlisted),
            "attended": fmt.count(r.attended),
            "no_show": fmt.count(r.no_show),
            "attendance_rate": fmt.percent(fmt.ratio(r.attended, r.registered)),
        }
        for r in data["webinars"]
    ]
    ret = data["retention"]
    retention = {
        "due": fmt.count(ret.renewals_due if ret else None),
        "won": fmt.count(ret.renewals_won if ret else None),
        "rate": fmt.percent(ret.renewal_rate if ret else None),
        "upsell": fmt.money(ret.upsell_revenue if ret else None),
    }
    last_day = week.start + timedelta(days=6)
    not_computed = [w.iso for w in data["trend_weeks"] if data["by_week"][w.start] is None]
    headline = (
        f"{fmt.count(this['new_leads'])} new leads, {fmt.count(this['sql'])} SQLs" if this else "not computed"
    )
    return {
        "week": week.iso,
        "headline": headline,
        "period": f"{week.start:%-d %b} – {last_day:%-d %b %Y}",
        "timezone": week.tz.key,
        "key_numbers": key_numbers,
        "movers": _movers(data["channels"], data["channels_last"]),
        "channels": channels,
        "models": [MODEL_LABELS[m] for m in ATTRIBUTION_MODELS],
        "attribution_sql": attribution["sql"],
        "attribution_customer": attribution["customer"],
        "velocity": velocity,
        "cohorts": cohorts,
        "email": email,
        "sla": sla,
        "sla_compliance": fmt.percent(fmt.ratio(met, decided)),
        "rejections": rejections,
        "webinars": webinars,
        "retention": retention,
        "weeks_not_computed": not_computed,
    }


# --------------------------------------------------------------------------- charts


def draw_charts(data: dict[str, Any], week: Week) -> dict[str, bytes]:
    """Four PNGs: the funnel against last week and the 4-week average, the 12-week trend,
    SQLs by channel, and SQL attribution by model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False})
    charts: dict[str, bytes] = {}

    def png(fig) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        return buf.getvalue()

    def empty(ax, text: str = fmt.NO_DATA) -> None:
        ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555555")
        ax.set_xticks([])
        ax.set_yticks([])

    # 1. This week against last week and the 4-week average.
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    series = [("This week", data["this"]), ("Last week", data["last"]), ("4-week average", data["average"])]
    width = 0.27
    hatches = ("", "//", "..")
    for i, (label, values) in enumerate(series):
        xs = [j + (i - 1) * width for j in range(len(FUNNEL))]
        ys = [values[f] if values else 0 for f in FUNNEL]
        ax.bar(xs, ys, width, label=label, color=PALETTE[i], hatch=hatches[i], edgecolor="white")
    ax.set_xticks(range(len(FUNNEL)), [LABELS[f] for f in FUNNEL])
    ax.set_title(f"Funnel, {week.iso}")
    ax.legend(frameon=False, fontsize=8)
    charts["funnel"] = png(fig)

    # 2. 12-week trend.
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    labels = [w.iso[-3:] for w in data["trend_weeks"]]
    markers = ("o", "s", "^", "D")
    for i, f in enumerate(TREND):
        ys = [(v[f] if v else float("nan")) for v in (data["by_week"][w.start] for w in data["trend_weeks"])]
        ax.plot(labels, ys, marker=markers[i], color=PALETTE[i], label=LABELS[f])
    ax.set_title("Last 12 weeks")
    ax.legend(frameon=False, fontsize=8, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    charts["trend"] = png(fig)

    # 3. Channels by SQLs and by won revenue, side by side (win rates are in the table beside it).
    fig, (ax, ax_rev) = plt.subplots(1, 2, figsize=(7.2, 3.0), sharey=True)
    by_sql = sorted(data["channels"].items(), key=lambda kv: (kv[1]["sql"], kv[1]["won_revenue"], kv[0]))
    if by_sql and any(v["sql"] or v["won_revenue"] for _, v in by_sql):
        names = [c for c, _ in by_sql]
        ax.barh(names, [v["sql"] for _, v in by_sql], color=PALETTE[0])
        ax.set_xlabel("SQLs this week")
        ax_rev.barh(
            names, [v["won_revenue"] for _, v in by_sql], color=PALETTE[1], hatch="//", edgecolor="white"
        )
        ax_rev.set_xlabel("Won revenue this week")
    else:
        empty(ax, "no SQLs this week")
        empty(ax_rev, "no revenue this week")
    ax.set_title("Channels by SQLs")
    ax_rev.set_title("and by won revenue")
    charts["channels"] = png(fig)

    # 4. SQL attribution by model, side by side per channel.
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    sql_credit = data["attribution"]["sql"]
    if sql_credit:
        names = sorted(sql_credit, key=lambda c: (-sql_credit[c].get("w_shaped", 0.0), c))[:8]
        width = 0.8 / len(ATTRIBUTION_MODELS)
        for i, model in enumerate(ATTRIBUTION_MODELS):
            xs = [j + (i - 2) * width for j in range(len(names))]
            ax.bar(
                xs,
                [sql_credit[c].get(model, 0.0) for c in names],
                width,
                label=MODEL_LABELS[model],
                color=PALETTE[i],
            )
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
        ax.set_ylabel("SQLs credited")
        ax.legend(frameon=False, fontsize=7, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    else:
        empty(ax, "no SQL conversions this week")
    ax.set_title("SQL attribution by model")
    charts["attribution"] = png(fig)
    return charts


# --------------------------------------------------------------------------- files and sending


def table_csvs(conn: sa.Connection, week: Week) -> dict[str, bytes]:
    """The week's rows of each result table as CSV (an empty cell is a NULL: no data)."""
    out = {}
    for table in COMPUTED_TABLES:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c.name for c in table.columns])
        order = [c for c in table.primary_key.columns]
        for row in conn.execute(sa.select(table).where(table.c.week_start == week.start).order_by(*order)):
            writer.writerow(["" if v is None else v for v in row])
        out[f"{table.name}.csv"] = buf.getvalue().encode("utf-8")
    return out


def build_report(engine: sa.Engine, week: Week) -> Report:
    with engine.connect() as conn:
        data = collect(conn, week)
        csvs = table_csvs(conn, week)
    context = shape(data, week)
    charts = draw_charts(data, week)
    email = render.render(TEMPLATE, {**context, "images": {n: f"cid:{n}" for n in charts}})
    file_html = render.render(TEMPLATE, {**context, "images": {n: f"{n}.png" for n in charts}}).html
    attachments = tuple(
        Attachment(f"{name}.png", content, "image/png", content_id=name) for name, content in charts.items()
    ) + tuple(Attachment(name, content, "text/csv") for name, content in csvs.items())
    return Report(week, context, charts, csvs, email, file_html, attachments)


def _write(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)  # a reader never sees half a file


def eml_bytes(report: Report, to: Sequence[str]) -> bytes:
    """The message as the outbox and SMTP transports would build it (one copy, addressed to ``to``)."""
    body = {
        "personalizations": [{"to": [{"email": a} for a in to] or [{"email": sender_address()["email"]}]}],
        "from": sender_address(),
        "subject": report.email.subject,
        "content": [
            {"type": "text/plain", "value": report.email.text},
            {"type": "text/html", "value": report.email.html},
        ],
        "attachments": [a.as_sendgrid() for a in report.attachments],
    }
    [(_, msg)], refused = expand(body)
    if refused:
        raise ValueError(f"the report's .eml could not be built: {next(iter(refused.values()))}")
    return bytes(msg)


def save_report(report: Report, to: Sequence[str] = ()) -> Path:
    """FUNNELFLOW_HOME/reports/YYYY-Www/: report.html with its PNGs beside it, the CSVs and report.eml."""
    folder = report_dir(report.week)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in report.charts.items():
        _write(folder / f"{name}.png", content)
    for name, content in report.csvs.items():
        _write(folder / name, content)
    _write(folder / "report.html", report.file_html.encode("utf-8"))
    _write(folder / "report.eml", eml_bytes(report, to))
    return folder


def send_report(
    engine: sa.Engine, report: Report, recipients: Sequence[str], transport: Transport, as_of: datetime
) -> SendReport:
    """Send through the sending layer (transactional, ledgered): once per stakeholder and week."""
    mailing = Mailing(
        message_key=message_key(report.week),
        template=TEMPLATE,
        kind="transactional",
        context={**report.context, "images": {n: f"cid:{n}" for n in report.charts}},
        attachments=report.attachments,
    )
    return send_mailing(engine, mailing, [Recipient(email=a) for a in recipients], transport, as_of=as_of)
