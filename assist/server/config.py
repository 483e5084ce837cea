"""Server settings: one pydantic model, loaded from a YAML/JSON file and the environment.

    config = load_config("assist.yaml")          # file, then ASSIST_* environment variables on top
    config = ServerConfig(tokens=Tokens(cti="s3cret"))
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assist.errors import AssistError


class ConfigError(AssistError):
    """The server configuration file or environment is invalid."""


class Tokens(BaseModel):
    """Shared secrets. An empty token disables that role (nobody can connect as it)."""

    model_config = ConfigDict(extra="forbid")

    cti: str = ""
    supervisor: str = ""
    agents: dict[str, str] = Field(default_factory=dict)  # agent_id → token

    @model_validator(mode="after")
    def _distinct(self) -> Tokens:
        seen: dict[str, str] = {}
        roles = [("cti", self.cti), ("supervisor", self.supervisor)]
        roles += [(f"agents.{a}", t) for a, t in self.agents.items()]
        for role, token in roles:
            if not token:
                continue
            if token in seen:  # one token must decide one identity
                raise ValueError(f"tokens.{role} repeats the token of tokens.{seen[token]}")
            seen[token] = role
        return self


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_message_bytes: int = Field(default=256 * 1024, ge=1024)
    max_events_per_s: float = Field(default=200.0, gt=0)  # per /ingest connection; bursts up to 1 s worth
    max_calls: int = Field(default=1800, ge=1)
    queue_size: int = Field(default=256, ge=4)  # messages waiting for one sidebar/supervisor socket


class CallLogSettings(BaseModel):
    """The durable call log. Off in this model unless a path is given; `assist serve` turns it on by default
    (./assist-calls.db) - see README "Delivery guarantee"."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = None   # SQLite file (WAL mode); created if missing
    sync: Literal["normal", "full"] = "normal"  # full: also survive power loss (an fsync per commit)
    retention_days: float | None = Field(default=None, gt=0)  # ended calls older than this are purged


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    tokens: Tokens = Field(default_factory=Tokens)
    limits: Limits = Field(default_factory=Limits)
    idle_timeout_s: float = Field(default=300.0, gt=0)  # a call with no event for this long is closed
    tick_interval_s: float = Field(default=1.0, gt=0)
    gc_full_every_s: float = Field(default=300.0, ge=0)  # a full GC on this timer, never mid-traffic; 0: defaults
    certfile: str | None = None
    keyfile: str | None = None
    allowed_origins: list[str] = Field(default_factory=list)  # besides the server's own origin
    log: CallLogSettings = Field(default_factory=CallLogSettings)

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerConfig:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("certfile and keyfile go together: give both or neither")
        return self


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


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                **overrides: Any) -> ServerConfig:
    """Build the config from a file (YAML, or JSON by suffix), then ASSIST_* env, then `overrides`
    (CLI flags; None values are ignored). Raise ConfigError naming the field on any problem."""
    env = os.environ if env is None else env
    data: dict[str, Any] = _read_file(Path(path)) if path else {}
    tokens = dict(data.get("tokens") or {})
    if env.get("ASSIST_CTI_TOKEN"):
        tokens["cti"] = env["ASSIST_CTI_TOKEN"]
    if env.get("ASSIST_SUPERVISOR_TOKEN"):
        tokens["supervisor"] = env["ASSIST_SUPERVISOR_TOKEN"]
    if env.get("ASSIST_AGENT_TOKENS"):
        tokens["agents"] = {**(tokens.get("agents") or {}), **parse_agent_tokens(env["ASSIST_AGENT_TOKENS"])}
    data["tokens"] = tokens
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ServerConfig.model_validate(data)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(where + "; ".join(problems)) from None


def token_key(token: str) -> bytes:
    """Tokens are looked up by digest so a dict lookup leaks no timing about the token itself."""
    return hashlib.sha256(token.encode()).digest()
