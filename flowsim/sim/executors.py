"""Where replications run: in this process, a local process pool, or a Dask cluster.

Replications are independent, so they are split into batches and farmed out. Every batch
carries its replication numbers and every replication draws from streams derived from
``(seed, replication)`` alone, so the results are identical whatever the executor, the number
of workers or the order in which batches finish: the caller sorts them back into place.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from flowsim._extras import missing

__all__ = ["default_workers", "run_batches"]

T = TypeVar("T")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_batches(
    fn: Callable[..., T],
    payload: Any,
    batches: Sequence[Any],
    *,
    workers: int | None = None,
    cluster: str | None = None,
    executor: Executor | None = None,
) -> Iterator[T]:
    """Yield ``fn(payload, batch)`` for every batch, as each finishes (any order).

    ``cluster`` is the address of a running Dask scheduler (``tcp://host:8786``); ``executor``
    any ``concurrent.futures.Executor`` (e.g. ``distributed.Client(...).get_executor()``).
    Otherwise a process pool of ``workers`` processes (``1`` runs in this process).
    """
    if cluster is not None:
        yield from _dask(fn, payload, batches, cluster)
        return
    if executor is not None:
        yield from _futures(executor, fn, payload, batches)
        return
    n = workers or default_workers()
    if n <= 1 or len(batches) <= 1:
        for batch in batches:
            yield fn(payload, batch)
        return
    # fork where there is one: workers start in milliseconds and, unlike spawn/forkserver,
    # do not re-import the caller's __main__ (a script without a main guard still works).
    # Workers only run the engine (numpy, SimPy), never polars, so its thread pool is safe.
    # The payload (models, settings, a replay plan) reaches each worker once, through the
    # pool's initializer (inherited by fork, not pickled), rather than with every batch:
    # batches can then be small enough to balance the load without paying for it.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(
        max_workers=n, mp_context=ctx, initializer=_keep, initargs=(payload,)
    ) as pool:
        yield from _futures(pool, _with_kept, fn, batches)


#: the payload of the pool this worker process belongs to (set by ``_keep``)
_KEPT: Any = None


def _keep(payload: Any) -> None:
    """Pool initializer: hold the payload for every batch this worker will run."""
    global _KEPT
    _KEPT = payload


def _with_kept(fn: Callable[..., T], batch: Any) -> T:
    return fn(_KEPT, batch)


def _futures(
    executor: Executor, fn: Callable[..., T], payload: Any, batches: Sequence[Any]
) -> Iterator[T]:
    futures: list[Future[T]] = [executor.submit(fn, payload, b) for b in batches]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for f in futures:
            f.cancel()


def _dask(fn: Callable[..., T], payload: Any, batches: Sequence[Any], address: str) -> Iterator[T]:
    try:
        from distributed import Client
    except ImportError as err:
        raise missing(err, "--cluster") from err
    try:
        client = Client(address, timeout="10s", set_as_default=False)  # type: ignore[no-untyped-call]
    except OSError as err:
        raise RuntimeError(f"cannot reach the Dask scheduler at {address}: {err}") from err
    try:
        shared = client.scatter(payload, broadcast=True)  # type: ignore[no-untyped-call]
        futures = [client.submit(fn, shared, b, pure=False) for b in batches]
        # In submission order: the caller sorts results anyway, and distributed's
        # as_completed wants a default client, which a library must not install.
        for future in futures:
            yield future.result()
    finally:
        client.close()  # type: ignore[no-untyped-call]
