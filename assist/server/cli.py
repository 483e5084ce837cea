"""`assist serve` and `assist demo` subcommands (registered into the main CLI)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the server's subcommands to the `assist` parser."""
