"""Scale-out settings (the `redis` section of the server config) and the Redis connection."""

from __future__ import annotations

import redis.asyncio as aioredis

from assist.errors import AssistError
from assist.scale.keys import Keys
from assist.server.config import RedisSettings


class ScaleError(AssistError):
    """Redis mode cannot run as configured (unreachable Redis, settings that disagree)."""


ScaleSettings = RedisSettings  # the `redis` section of the server config


def connect(url: str) -> aioredis.Redis:
    """A client with short timeouts: an unreachable Redis is an error in seconds, never a hang."""
    return aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2.0,
                                   socket_timeout=10.0, health_check_interval=15)


async def check_partitions(client: aioredis.Redis, keys: Keys) -> None:
    """The first process fixes the partition count; a process configured otherwise refuses to run
    (events of one call would land in two streams and lose their order)."""
    await client.hsetnx(keys.settings, "partitions", str(keys.partitions))
    stored = str(await client.hget(keys.settings, "partitions"))
    if int(stored) != keys.partitions:
        raise ScaleError(f"redis.partitions is {keys.partitions} here but {stored} in Redis (prefix "
                         f"'{keys.prefix}'): every gateway and worker must use the same count")
