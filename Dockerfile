# The chat site: Django + Channels served by Daphne, static files by WhiteNoise.
# Build: docker build -t chatsite .   Run the whole stack: docker compose up --build
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Every pinned requirement ships a manylinux wheel (psycopg[binary] bundles libpq), so the
# slim image needs no compiler. Installed first: code changes do not invalidate this layer.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays owned by root: the unprivileged user can read it, not change it.
COPY . .

# Hashed, compressed static files for WhiteNoise (CompressedManifestStaticFilesStorage when
# DJANGO_DEBUG is false). The key only lets settings load; it is not kept in the image.
RUN DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY=collectstatic-at-build-time-only-never-kept-in-the-image-0123456789 \
    python manage.py collectstatic --noinput

# Uploaded files (DJANGO_MEDIA_ROOT) live in a volume mounted here, written by the app user.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app \
    && mkdir -p /srv/media && chown app:app /srv/media
USER app:app

EXPOSE 8000

# Daphne logs each HTTP request and each WebSocket connect/disconnect to stdout, never frames.
# --websocket-max-message-size matches WS_MAX_BYTES in the Makefile; --proxy-headers takes the
# client address and scheme from nginx's X-Forwarded-For / X-Forwarded-Proto.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--websocket-max-message-size", "262144", \
     "--proxy-headers", "chatsite.asgi:application"]
