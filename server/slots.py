"""The answer threads: at most so many answers worked out at once, time-outs included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class AnswerSlots:
    """Runs answers in worker threads, at most `threads` at once.

    A request that stops waiting at its deadline leaves its answer to run to the end in its place
    (a thread cannot be stopped), so requests that time out never let more answers run than the
    limit; an answer whose request gave up before it had a place is not started at all.
    """

    def __init__(self, threads: int) -> None:
        self._limiter = anyio.CapacityLimiter(threads)
        self._left: set[asyncio.Future[Any]] = set()  # answers whose requests timed out, still running

    @property
    def busy(self) -> int:
        """Answers being worked out now (or about to start)."""
        return int(self._limiter.borrowed_tokens)

    async def run(self, work: Callable[[], T], timeout: float) -> T:
        """work() in a worker thread; TimeoutError when it has not ended within `timeout` seconds."""
        wanted = True

        def guarded() -> T:
            if not wanted:
                raise TimeoutError("the request stopped waiting before the answer started")
            return work()

        task = asyncio.ensure_future(anyio.to_thread.run_sync(guarded, limiter=self._limiter))
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            wanted = False
            self._left.add(task)
            task.add_done_callback(self._forget)
            raise

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._left.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nobody waits for it any more
