# The project's one image: the worker and the web app run from it (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .
ENV VAR_DIR=/var/lib/escalations
CMD ["python", "worker.py"]
