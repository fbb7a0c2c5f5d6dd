"""Numbers for people: thousands separators, percentages with one decimal, "no data" instead of x/0."""

from __future__ import annotations

from decimal import Decimal

NO_DATA = "no data"


def count(value: int | float | None) -> str:
    """12,345; an average keeps one decimal (12.5); None is "no data"."""
    if value is None:
        return NO_DATA
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def percent(share: float | None) -> str:
    """0.1234 -> 12.3%; None -> "no data"."""
    return NO_DATA if share is None else f"{share * 100:,.1f}%"


def change(current: float | None, previous: float | None, as_money: bool = False) -> str:
    """Week-over-week change: "+12 (+25.0%)"; without a previous value the percentage is "no data"."""
    if current is None or previous is None:
        return NO_DATA
    diff = current - previous
    sign = "+" if diff > 0 else ""
    absolute = f"{sign}{money(diff) if as_money else count(diff)}"
    share = ratio(diff, previous)
    return (
        f"{absolute} ({NO_DATA})"
        if share is None
        else f"{absolute} ({'+' if share > 0 else ''}{share * 100:,.1f}%)"
    )


def credit(value: float | None) -> str:
    """Attribution credit (conversions credited): two decimals, 1,234.50."""
    return NO_DATA if value is None else f"{value:,.2f}"


def days(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:,.1f} d"


def money(value: Decimal | float | None) -> str:
    """1,234.50 (amounts as the CRM reports them); None is "no data"."""
    return NO_DATA if value is None else f"{Decimal(str(value)):,.2f}"


def hours(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:,.1f} h"
