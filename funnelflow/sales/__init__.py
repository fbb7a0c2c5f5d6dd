"""Sales handoff: the team file, routing, the sales queue and its SLAs, feedback, the CRM and CTI (no
Airflow).
"""
