"""Server settings: one pydantic-settings model. Each setting comes from, lowest to highest priority:

1. its default here (the only place it is written);
2. the config file (`--config`, YAML, or JSON by suffix);
3. the environment: `ASSIST_<FIELD>`, nested with `__` (`ASSIST_PORT=9000`, `ASSIST_LIMITS__MAX_CALLS=500`,
   `ASSIST_TOKENS__AGENTS='{"a7": "tok"}'`), plus the older `ASSIST_CTI_TOKEN`, `ASSIST_SUPERVISOR_TOKEN`,
   `ASSIST_AGENT_TOKENS=a7=tok1,a8=tok2`;
4. command-line flags / keyword arguments.

The merged result is validated as a whole, and every model validates assignments too, so no override
(a flag, a later `config.log.retention_days = -5`) skips a constraint.

    config = load_config("assist.yaml", port=9000)
    config = ServerConfig(tokens=Tokens(cti="s3cret"))     # defaults, then ASSIST_* on top, then these

A new group of settings is a BaseModel with `model_config = SETTINGS_GROUP` and a field of ServerConfig
with `Field(default_factory=…)`; its environment names follow (`ASSIST_<GROUP>__<FIELD>`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from assist.core.engine import DEFAULT_MAX_CALLS
from assist.errors import AssistError
from assist.server import DEFAULT_HOST, DEFAULT_PORT

ENV_PREFIX = "ASSIST_"
ENV_NESTED = "__"
SETTINGS_GROUP = ConfigDict(extra="forbid", validate_assignment=True)


class ConfigError(AssistError):
    """The server configuration file or environment is invalid."""


MIN_TOKEN_CHARS = 16  # `assist serve` refuses shorter tokens: a shared secret must not be guessable


class Tokens(BaseModel):
    """Shared secrets. An empty token disables that role (nobody can connect as it)."""

    model_config = SETTINGS_GROUP

    cti: str = ""
    supervisor: str = ""
    metrics: str = ""  # opens /metrics and /healthz details; without it the supervisor token does
    agents: dict[str, str] = Field(default_factory=dict)  # agent_id → token

    def short(self, min_chars: int = MIN_TOKEN_CHARS) -> list[str]:
        """The roles whose token is set but shorter than `min_chars` (guessable)."""
        roles = [("cti", self.cti), ("supervisor", self.supervisor), ("metrics", self.metrics)]
        roles += [(f"agents.{a}", t) for a, t in self.agents.items()]
        return [f"tokens.{role}" for role, token in roles if token and len(token) < min_chars]

    @model_validator(mode="after")
    def _distinct(self) -> Tokens:
        seen: dict[str, str] = {}
        roles = [("cti", self.cti), ("supervisor", self.supervisor), ("metrics", self.metrics)]
        roles += [(f"agents.{a}", t) for a, t in self.agents.items()]
        for role, token in roles:
            if not token:
                continue
            if token in seen:  # one token must decide one identity
                raise ValueError(f"tokens.{role} repeats the token of tokens.{seen[token]}")
            seen[token] = role
        return self


class Limits(BaseModel):
    model_config = SETTINGS_GROUP

    max_message_bytes: int = Field(default=256 * 1024, ge=1024)
    # /ingest paces a fast sender by reading slower (TCP flow control), never by refusing its events.
    # max_events_per_s is only an abuse ceiling per connection (off by default; bursts up to 1 s worth):
    # events over it are answered `rate_limited`, never dropped silently.
    max_events_per_s: float | None = Field(default=None, gt=0)
    ingest_slice_bytes: int = Field(default=64 * 1024, ge=1024)  # work applied before the loop serves others
    acks_in_flight: int = Field(default=1024, ge=16)  # messages applied, not yet acked: then reading stops
    outbox_bytes: int = Field(default=4 << 20, ge=64 * 1024)  # characters waiting for one sidebar/supervisor
    connections_per_token: int = Field(default=32, ge=1)  # open sockets per token (per identity)
    agent_messages_per_s: float = Field(default=10.0, gt=0)  # from one sidebar/supervisor socket
    max_calls: int = Field(default=DEFAULT_MAX_CALLS, ge=1)
    queue_size: int = Field(default=256, ge=4)  # messages waiting for one sidebar/supervisor socket
    # keepalive (server/keepalive.py): every socket is pinged this often; one whose pong has not come
    # ping_timeout_s after the ping is closed (1011), so a vanished sidebar does not stay open
    ping_interval_s: float = Field(default=20.0, gt=0)
    ping_timeout_s: float = Field(default=20.0, gt=0)


class CallLogSettings(BaseModel):
    """The durable call log. Off in this model unless a path is given; `assist serve` turns it on by default
    (./assist-calls.db) - see README "Delivery guarantee"."""

    model_config = SETTINGS_GROUP

    path: str | None = None   # SQLite file (WAL mode); created if missing
    sync: Literal["normal", "full"] = "normal"  # full: also survive power loss (an fsync per commit)
    retention_days: float | None = Field(default=None, gt=0)  # ended calls older than this are purged


class SummaryWebhookSettings(BaseModel):
    """Where each call's summary is POSTed when it ends (README "Call summary webhook")."""

    model_config = SETTINGS_GROUP

    url: str | None = None     # http(s)://…; None: no webhook
    secret: str = ""           # HMAC-SHA256 key for the X-Assist-Signature header (empty: unsigned)
    timeout_s: float = Field(default=10.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)  # the longest wait between two attempts (backoff doubles)


class LoggingSettings(BaseModel):
    """The server's own log lines on stderr (not the call log): one structured line per event."""

    model_config = SETTINGS_GROUP

    level: Literal["debug", "info", "warning", "error"] = "info"  # debug also shows websockets' own lines
    format: Literal["auto", "json", "console"] = "auto"  # auto: readable on a terminal, JSON Lines otherwise


class RedisSettings(BaseModel):
    """Scale-out mode (`assist gateway`, `assist worker`, `serve --redis`; docs/scale-out.md). Every gateway
    and worker of one deployment must use the same prefix and partition count."""

    model_config = SETTINGS_GROUP

    url: str | None = None          # redis://host:6379/0; `--redis URL` wins
    prefix: str = Field(default="assist", pattern=r"^[A-Za-z0-9_.-]{1,40}$")  # of every key
    partitions: int = Field(default=64, ge=1, le=4096)  # streams the calls are spread over, by call id
    lease_ms: int = Field(default=6000, ge=300)  # a stopped worker loses its partitions within this
    output_maxlen: int = Field(default=100_000, ge=1000)  # the output stream is trimmed to about this
    retention_s: int | None = Field(default=None, gt=0)  # ended calls' records expire after this


class ServerConfig(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", validate_assignment=True, env_prefix=ENV_PREFIX,
                                      env_nested_delimiter=ENV_NESTED, case_sensitive=False)

    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    tokens: Tokens = Field(default_factory=Tokens)
    limits: Limits = Field(default_factory=Limits)
    idle_timeout_s: float = Field(default=300.0, gt=0)  # a call with no event for this long is closed
    tick_interval_s: float = Field(default=1.0, gt=0)
    gc_full_every_s: float = Field(default=300.0, ge=0)  # a full GC on this timer, never mid-traffic; 0: defaults
    gc_freeze_every_s: float = Field(default=0.1, ge=0)  # what survives this long is frozen (gctune); 0: never
    gc_refresh_every_s: float = Field(default=3600.0, ge=0)  # frozen garbage freed this often at least; 0: never
    stop_timeout_s: float = Field(default=10.0, gt=0)  # SIGTERM/SIGINT: the longest a graceful stop may take
    uvloop: bool = True  # run on uvloop's event loop where it is installed; false: asyncio's own
    certfile: str | None = None
    keyfile: str | None = None
    allowed_origins: list[str] = Field(default_factory=list)  # besides the server's own origin
    allowed_hosts: list[str] = Field(default_factory=list)  # Host names served; default: bind address, loopback
    log: CallLogSettings = Field(default_factory=CallLogSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    summary_webhook: SummaryWebhookSettings = Field(default_factory=SummaryWebhookSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerConfig:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("certfile and keyfile go together: give both or neither")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # first wins: flags/kwargs, then ASSIST_<FIELD>, then the older token variables, then the file
        return init_settings, env_settings, _TokenVariables(settings_cls), _ConfigFile(settings_cls)


def parse_agent_tokens(text: str) -> dict[str, str]:
    """`a7=tok1,a8=tok2` → {"a7": "tok1", "a8": "tok2"}; raise ConfigError on a malformed item."""
    agents: dict[str, str] = {}
    for i, item in enumerate(p.strip() for p in text.split(",")):
        if not item:
            continue
        agent, sep, token = item.partition("=")
        if not sep or not agent.strip() or not token.strip():
            raise ConfigError(f"ASSIST_AGENT_TOKENS item {i + 1}: expected agent_id=token, got "
                              f"{agent.strip() or '(empty)'}=…")  # never echo the token
        agents[agent.strip()] = token.strip()
    return agents


class _Source(PydanticBaseSettingsSource):
    """A source that gives a whole mapping at once (pydantic-settings asks per field only of its own)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False


class _TokenVariables(_Source):
    """ASSIST_CTI_TOKEN, ASSIST_SUPERVISOR_TOKEN, ASSIST_AGENT_TOKENS (what clients and older deployments set)."""

    def __call__(self) -> dict[str, Any]:
        env = os.environ
        tokens: dict[str, Any] = {}
        if env.get("ASSIST_CTI_TOKEN"):
            tokens["cti"] = env["ASSIST_CTI_TOKEN"]
        if env.get("ASSIST_SUPERVISOR_TOKEN"):
            tokens["supervisor"] = env["ASSIST_SUPERVISOR_TOKEN"]
        if env.get("ASSIST_AGENT_TOKENS"):
            tokens["agents"] = parse_agent_tokens(env["ASSIST_AGENT_TOKENS"])
        return {"tokens": tokens} if tokens else {}


_FILE: ContextVar[dict[str, Any]] = ContextVar("assist_config_file", default={})  # noqa: B039 (never mutated)


class _ConfigFile(_Source):
    """The config file's settings, while `load_config` builds from it."""

    def __call__(self) -> dict[str, Any]:
        return _FILE.get()


@contextmanager
def _reading(data: dict[str, Any]) -> Iterator[None]:
    token = _FILE.set(data)
    try:
        yield
    finally:
        _FILE.reset(token)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise ConfigError(f"{path}: not valid {kind}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """`values` without the Nones (flags not given), at every depth; groups left empty are dropped."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _given(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out


def env_name(loc: tuple[str | int, ...]) -> str:
    """The environment variable of a field path: ("limits", "max_calls") → ASSIST_LIMITS__MAX_CALLS."""
    return ENV_PREFIX + ENV_NESTED.join(str(p).upper() for p in loc)


def load_config(path: str | Path | None = None, **overrides: Any) -> ServerConfig:
    """Build the config from the file (YAML, or JSON by suffix), then ASSIST_* variables, then `overrides`
    (CLI flags; None values, also nested ones such as log={"sync": None}, are ignored). Raise ConfigError
    naming each bad field and its environment variable."""
    data = _read_file(Path(path)) if path else {}
    try:
        with _reading(data):
            return ServerConfig(**_given(overrides))
    except ValidationError as exc:
        where = f"{path} / environment / flags: " if path else "environment / flags: "
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'} ({env_name(e['loc'])}): {e['msg']}"
                    if e["loc"] else f"(top): {e['msg']}" for e in exc.errors()]
        raise ConfigError(where + "; ".join(problems)) from None
    except SettingsError as exc:  # e.g. a nested variable that is not valid JSON
        raise ConfigError(f"environment: {exc}" + (f": {exc.__cause__}" if exc.__cause__ else "")) from None


def token_key(token: str) -> bytes:
    """Tokens are looked up by digest so a dict lookup leaks no timing about the token itself."""
    return hashlib.sha256(token.encode()).digest()
