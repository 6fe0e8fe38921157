# One image for every process of the media service; docker-compose.yml picks the command.

# The pages' scripts and styles, bundled from the npm lock file (make web does the same).
FROM node:20-slim AS web
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/build.mjs web/build.mjs
COPY web/src web/src
RUN node web/build.mjs

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# FFmpeg for the transcode workers (ffprobe comes with it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# The source, run in place (PYTHONPATH=/app), so Alembic's versions and other data files are there as-is.
COPY . .
COPY --from=web /build/web/dist web/dist

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home media
USER media

EXPOSE 8000 50051 50052 50053 50054 50055
CMD ["python", "-m", "edge"]
