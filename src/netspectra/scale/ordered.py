"""Results of a ``concurrent.futures`` pool in input order, with a bounded number of items submitted ahead.

Shared by the process pool (:mod:`.process_pool`) and the thread pool (:mod:`.thread_pool`): at most
``ahead`` items are submitted beyond the one being yielded, so a pool whose items each load a matrix holds
at most that many in memory, and finished results wait for their turn in this process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, wait
from itertools import islice
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Seconds between two looks at a pending Ctrl-C while a result is awaited (:func:`await_result`).
POLL_S = 0.25


def await_result(future: Future) -> Any:
    """``future.result()``, waited for in slices of :data:`POLL_S`.

    A pool's own threads can take a SIGINT.  CPython then raises ``KeyboardInterrupt`` in the main
    thread only when that thread next takes the GIL, which an untimed wait does only when the result
    arrives: Ctrl-C would wait for the layer being decomposed.  A timed wait takes the GIL every POLL_S.
    """
    while wait([future], timeout=POLL_S).not_done:
        pass
    return future.result()


def ordered_map(pool: Executor, fn: Callable[[T], R], items: Sequence[T], ahead: int) -> Iterator[R]:
    """Yield ``fn(item)`` for each item, in order, run by ``pool`` with at most ``ahead`` items submitted
    beyond the one awaited (the next item is submitted as soon as the head's result is in)."""
    upcoming = iter(items)
    pending: deque[Future] = deque(pool.submit(fn, item) for item in islice(upcoming, ahead))
    while pending:
        result = await_result(pending.popleft())
        pending.extend(pool.submit(fn, item) for item in islice(upcoming, 1))
        yield result
