"""A campaign file for the tests and a helper that writes it with its Markdown."""

from __future__ import annotations

from pathlib import Path

from funnelflow.campaigns.config import Campaign, load_campaign

NEWSLETTER = """\
name: Test newsletter
description: A newsletter for the tests
owner: marketing-ops
schedule: {cron: "0 9 * * TUE", timezone: Europe/Berlin}
audience:
  all:
    - lifecycle_stage: [lead, mql]
content: {markdown: test-news.md}
subject: {a: "Plain subject", b: "{{ first_name }}, a personal subject"}
ab_test: {share: 0.5, wait_hours: 1, metric: clicks, min_per_variant: 2}
offer: {url: "https://example.com/offer", expires_at: "2099-12-31T23:59:00+01:00", limit: 3}
test_recipients: [team@example.com]
"""

MARKDOWN = """\
# News

[Read more](https://example.com/news "button")

[Claim it](offer:)
"""


def write_campaign(folder: Path, slug: str = "test-news", text: str = NEWSLETTER) -> Campaign:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test-news.md").write_text(MARKDOWN)
    (folder / f"{slug}.yaml").write_text(text)
    return load_campaign(folder / f"{slug}.yaml")
