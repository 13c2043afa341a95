"""Settings for the tutorial peer: only what the consumer needs, with the product's channel
layer configuration (channels-redis' core layer, capacity 1000, socket_timeout None).

The product uses a subclass of the same layer whose connection pool waits for a free
connection instead of failing (chat/layers.py); the peer keeps the tutorial's plain class.
"""

import os

SECRET_KEY = "bench-tutorial-peer-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.peers.tutorial"
ASGI_APPLICATION = "bench.peers.tutorial_asgi.application"
DATABASES: dict = {}
USE_TZ = True

# `make bench BENCH_ARGS="--tutorial-layer pubsub"` measures the same consumer on
# channels-redis' pub/sub layer, which has no capacity or expiry to set.
if os.environ.get("BENCH_LAYER") == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": os.environ["REDIS_URL"]}]},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": None}],
                "capacity": 1000,
            },
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
