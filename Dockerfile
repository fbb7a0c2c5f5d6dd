# funnelflow on the official Airflow image: our pins on top of Airflow's own.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.txt /opt/funnelflow/requirements.txt
RUN pip install --no-cache-dir -r /opt/funnelflow/requirements.txt

COPY --chown=airflow:root funnelflow /opt/funnelflow/funnelflow
COPY --chown=airflow:root funnelflow_airflow /opt/funnelflow/funnelflow_airflow
COPY --chown=airflow:root config /opt/funnelflow/config
COPY --chown=airflow:root templates /opt/funnelflow/templates
COPY --chown=airflow:root include /opt/funnelflow/include
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins

ENV PYTHONPATH=/opt/funnelflow \
    FUNNELFLOW_HOME=/opt/airflow/funnelflow \
    FUNNELFLOW_CONFIG_DIR=/opt/funnelflow/config
