# newsletter: the daemon on a slim Python image, as a non-root user, state in a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEWSLETTER_CONFIG=/config/newsletter.yaml

WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY newsletter ./newsletter
COPY templates ./templates
COPY config ./config
RUN pip install ".[postgres]" && rm -rf /src

RUN useradd --create-home --uid 10001 newsletter \
    && mkdir -p /data /config \
    && chown newsletter:newsletter /data /config
USER newsletter
WORKDIR /data
VOLUME ["/data"]

CMD ["newsletter", "run", "--config", "/config/newsletter.yaml"]
