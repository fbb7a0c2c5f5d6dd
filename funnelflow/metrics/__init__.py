"""Weekly funnel metrics (issue 14): computed from the raw tables, stored per week, reported.

- ``weeks``: ISO weeks and their bounds in ``FUNNELFLOW_REPORT_TZ``;
- ``compute``: one week's result tables, replaced in one transaction (SQL in ``include/sql/metrics/``);
- ``report``: the stakeholder email (charts, CSVs, files under ``FUNNELFLOW_HOME/reports/``);
- ``config``: ``config/reports.yaml`` (who gets it).

Definitions of every figure: README.md, "Funnel metrics".
"""
