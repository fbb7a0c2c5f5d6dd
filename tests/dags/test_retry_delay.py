"""Every funnelflow DAG waits FUNNELFLOW_TASK_RETRY_DELAY_S before a retry (a minute unless set)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from funnelflow_airflow.common import default_args


def test_retry_delay_is_a_minute_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FUNNELFLOW_TASK_RETRY_DELAY_S", raising=False)
    assert default_args()["retry_delay"] == timedelta(minutes=1)
    monkeypatch.setenv("FUNNELFLOW_TASK_RETRY_DELAY_S", "5")
    assert default_args()["retry_delay"] == timedelta(seconds=5)


@pytest.mark.parametrize("raw", ["-1", "soon"])
def test_a_wrong_retry_delay_is_an_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("FUNNELFLOW_TASK_RETRY_DELAY_S", raw)
    with pytest.raises(ValueError, match="FUNNELFLOW_TASK_RETRY_DELAY_S"):
        default_args()
