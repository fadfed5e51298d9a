"""File watching: tell every open page when the ``.flow`` file changes on disk.

The watcher follows the file's *directory* (not the file), because editors save by writing a
new file and renaming it over the old one, which a watch on the old inode would miss. Each
batch of changes to the file's path becomes one event carrying the new version (the SHA-256
of the bytes), sent only when the version differs from the last one announced: an editor that
touches the file without changing it makes no noise. Pages compare the version with the one
they loaded and reload or show a conflict (see ``static/studio.js``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from watchfiles import Change, awatch

from flowsim.studio.document import Document, DocumentError

__all__ = ["Broadcaster", "watch_file"]

log = logging.getLogger(__name__)


class Broadcaster:
    """Fan-out of file events to the pages listening on ``/api/events``."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._queues):
            if queue.full():  # a stalled page: drop its oldest event, the newest matters
                queue.get_nowait()
            queue.put_nowait(event)


async def watch_file(
    document: Document, broadcaster: Broadcaster, stop: asyncio.Event, debounce_ms: int = 100
) -> None:
    """Publish ``{"version": ..., "exists": ...}`` whenever the file's content changes."""
    target = str(document.path)
    last = await asyncio.to_thread(_version, document)

    def only_ours(change: Change, path: str) -> bool:
        return path == target

    async for _ in awatch(
        document.path.parent,
        watch_filter=only_ours,
        debounce=debounce_ms,
        step=20,
        stop_event=stop,
        recursive=False,
    ):
        version = await asyncio.to_thread(_version, document)
        if version != last:
            last = version
            broadcaster.publish({"version": version, "exists": version is not None})


def _version(document: Document) -> str | None:
    try:
        return document.current_version()
    except DocumentError as err:  # unreadable for now (permissions): say nothing yet
        log.warning("%s", err)
        return None
