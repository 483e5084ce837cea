"""Scale-out settings (the `redis` section of the server config) and the Redis connection."""

from __future__ import annotations

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from assist.errors import AssistError
from assist.scale.keys import Keys


class ScaleError(AssistError):
    """Redis mode cannot run as configured (unreachable Redis, settings that disagree)."""


class ScaleSettings(BaseModel):
    """Every gateway and worker of one deployment must use the same prefix and partition count."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None          # redis://host:6379/0; `--redis` on the command line wins
    prefix: str = Field(default="assist", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    partitions: int = Field(default=64, ge=1, le=4096)
    lease_ms: int = Field(default=6000, ge=300)   # a stopped worker loses its partitions within this
    output_maxlen: int = Field(default=100_000, ge=1000)  # the output stream is trimmed to about this
    retention_s: int | None = Field(default=None, gt=0)   # ended calls' records expire after this


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
