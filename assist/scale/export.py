"""`assist export CALL_ID --redis URL`: a call's accepted inbound events from Redis, as native JSON Lines
(what `assist replay` reads), like the SQLite call log's export."""

from __future__ import annotations

from assist.scale.keys import Keys
from assist.scale.settings import ScaleError, connect


async def export_jsonl(url: str, call_id: str, prefix: str = "assist") -> str:
    client = connect(url)
    try:
        events = await client.lrange(Keys(prefix).call_log(call_id), 0, -1)
    except OSError as exc:
        raise ScaleError(f"{url}: Redis unreachable ({exc})") from None
    finally:
        await client.aclose()
    if not events:
        raise ScaleError(f"no call '{call_id}' in Redis at {url} (prefix '{prefix}'): expected the id of a "
                         "call that a worker logged, not expired")
    return "".join(f"{line!s}\n" for line in events)
