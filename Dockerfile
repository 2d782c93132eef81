# newsletter: the daemon on a slim Python image, as a non-root user, state and outbox in a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEWSLETTER_CONFIG=/config/newsletter.yaml \
    NEWSLETTER_DATA_DIR=/data \
    NEWSLETTER_OUTBOX_DIR=/data/outbox \
    NEWSLETTER_HEALTH_PORT=8081

# Fallback fonts for image cards: colour emoji and flags, Chinese/Japanese/Korean.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends fonts-noto-color-emoji fonts-droid-fallback \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY newsletter ./newsletter
COPY templates ./templates
COPY config ./config
RUN pip install ".[postgres,ses]" && rm -rf /src

RUN useradd --create-home --uid 10001 newsletter \
    && mkdir -p /data/outbox /config \
    && chown -R newsletter:newsletter /data /config
USER newsletter
WORKDIR /data
VOLUME ["/data"]

# The runner answers GET /health on loopback (NEWSLETTER_HEALTH_PORT); the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['NEWSLETTER_HEALTH_PORT'], timeout=4)"]

CMD ["newsletter", "run", "--config", "/config/newsletter.yaml"]
