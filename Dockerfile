# The project's one image: the worker and the web app both run from it (docker-compose.yml).
# `pip install .` brings the runtime dependencies only (no `local` or `dev` extra) and the packages with their
# templates and Alembic migrations; the processes run from the copy in /app, which also holds config/.
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/escalations escalations \
    && mkdir -p /var/lib/escalations && chown escalations /var/lib/escalations
USER escalations
ENV VAR_DIR=/var/lib/escalations
CMD ["python", "worker.py"]
