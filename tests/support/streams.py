"""Reading part of an engine's stream, then closing it, as an editor that moved on does."""

from __future__ import annotations

from collections.abc import AsyncIterator


async def read_then_close(stream: AsyncIterator[str], pieces: int) -> int:
    """Read ``pieces`` pieces (fewer if the stream ends first), close it; how many were read."""
    received = 0
    async for _ in stream:
        received += 1
        if received == pieces:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    return received
