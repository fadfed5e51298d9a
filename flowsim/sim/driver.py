"""The engine's run loop: SimPy's event queue, stepped with one Python frame per event.

``simpy.Process`` resumes its generator through ``Process._resume`` and every ``Timeout`` is
built by ``Timeout.__init__`` and ``Environment.schedule``: three Python frames around each
event besides ``Environment.step``, most of a lean model's cost per event. The engine's deal
walks only ever wait for a delay or a :class:`~flowsim.sim.capacity.Staff` grant, and never
fail or get interrupted, so they drive themselves on the environment's queue instead:

* a walk is a generator started by :func:`start`, which schedules its start exactly as
  ``simpy.Process`` schedules its ``Initialize`` event (urgent, now);
* to wait ``d`` hours it re-arms its one :class:`Wake` (its ``callbacks`` are the generator's
  ``send``) and pushes it on the queue at ``now + d`` with normal priority and the next event
  id, as ``Timeout(env, d)`` does, then yields; to wait for a grant it appends its ``send``
  to the request's callbacks;
* :func:`run` pops and processes events as ``Environment.step`` does, and when a walk's
  generator returns it schedules the walk's end (normal priority, now), as ``simpy.Process``
  schedules itself; a walk may return a callback for its end event (the one a
  ``simpy.AllOf`` over processes adds to each);
* a walk waiting for several walks at once (a parallel block's branches) yields after
  starting them, and a :class:`Join` counts their ends: when the last one's end event is
  processed it schedules the waiting walk's wake (normal priority, now), as ``simpy.AllOf``
  schedules itself once all its events are processed.

So the queue holds the very events, times, priorities and sequence numbers a
``simpy.Process`` of the same generator would have created: same-time events run in the same
order, every run's results and event count are unchanged, and other SimPy processes and
events (``Staff``'s headcount steps, the engine's warm-up marker, replay arrivals) share the
queue as before. The queue (``Environment._queue``) and the event-id counter
(``Environment._eid``) are SimPy's own attributes, unchanged since SimPy 3;
:func:`check_environment` fails loudly should a SimPy release rename them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from heapq import heappop, heappush
from typing import Any, cast

import simpy

__all__ = [
    "NORMAL",
    "URGENT",
    "Join",
    "Joined",
    "Wake",
    "Walk",
    "check_environment",
    "run",
    "sleep",
    "start",
]

#: SimPy's event priorities (simpy.events.URGENT, NORMAL)
URGENT, NORMAL = 0, 1

#: an event's callback
Callback = Callable[[Any], Any]
#: a walk: a generator that schedules its own wake-ups and yields nothing
Walk = Generator[None, Any, None]
#: a walk that returns its end event's callback (one of the walks a Join waits for)
Joined = Generator[None, Any, Callback]
#: one queue entry: (time, priority, event id, event)
Entry = tuple[float, int, int, Any]


class Wake:
    """The one event a walk waits on at a time, re-armed for each delay.

    ``callbacks`` as SimPy's events have them (``None`` once processed); ``resume`` is the
    walk's ``send``. A wake is never in the queue twice: its walk is suspended until it is
    processed.
    """

    __slots__ = ("callbacks", "resume")
    #: never fails (Environment.step reads these)
    _ok = True
    _value = None

    def __init__(self) -> None:
        self.callbacks: list[Callback] | None = None
        self.resume: Callback = _not_started


class Join:
    """``simpy.AllOf`` over ``n`` walks, for the walk waiting on ``wake``.

    Each of the ``n`` walks returns :meth:`done` (its end event's callback); the last one
    processed schedules ``wake`` now with normal priority and the next event id, as
    ``AllOf`` schedules itself (``Event.succeed``) once all its events are processed. The
    waiting walk yields after starting the ``n`` walks and is resumed by ``wake``.
    """

    __slots__ = ("env", "left", "wake")

    def __init__(self, env: simpy.Environment, wake: Wake, n: int) -> None:
        self.env = env
        self.wake = wake
        self.left = n

    def done(self, _event: Any) -> None:
        """One walk's end event was processed; the last one wakes the waiting walk."""
        self.left -= 1
        if self.left == 0:
            env, wake = self.env, self.wake
            wake.callbacks = [wake.resume]
            heappush(cast("list[Entry]", env._queue), (env._now, NORMAL, next(env._eid), wake))


def _not_started(_event: Any) -> None:  # pragma: no cover - start() replaces it first
    raise RuntimeError("a walk was woken before it was started")


def check_environment(env: simpy.Environment) -> tuple[list[Entry], Iterator[int]]:
    """The environment's event queue and event-id counter, or a clear error without them."""
    queue, eid = getattr(env, "_queue", None), getattr(env, "_eid", None)
    if not isinstance(queue, list) or eid is None or not hasattr(env, "_now"):
        raise RuntimeError(
            f"simpy {simpy.__version__} has no Environment._queue/_eid/_now: flowsim's engine "
            "schedules its events there (flowsim.sim.driver); use simpy 4.1"
        )
    return cast("list[Entry]", queue), eid


def start(env: simpy.Environment, wake: Wake, walk: Walk | Joined) -> None:
    """Start ``walk`` (which waits on ``wake``) now, as ``simpy.Process`` starts a process.

    Its start event is scheduled (urgent, now) like ``simpy.Process``'s ``Initialize``; the
    generator runs up to its first wait when that event is processed.
    """
    send = walk.send
    wake.resume = send
    wake.callbacks = [lambda _event: send(None)]
    heappush(cast("list[Entry]", env._queue), (env._now, URGENT, next(env._eid), wake))


def sleep(env: simpy.Environment, wake: Wake, delay: float) -> None:
    """Schedule ``wake`` ``delay`` hours from now, as ``Timeout(env, delay)``; then ``yield``."""
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    wake.callbacks = [wake.resume]
    heappush(cast("list[Entry]", env._queue), (env._now + delay, NORMAL, next(env._eid), wake))


def run(env: simpy.Environment, stop: float) -> int:
    """Process events up to and including time ``stop`` (or until none is left).

    ``Environment.step`` inlined: pop the next event, set the clock, call its callbacks, and
    raise a failed event's exception that nobody defused. A walk whose generator returns
    gets its end event scheduled (see the module doc).

    Returns
    -------
    int
        The number of events processed (``Environment.step`` calls it replaces).
    """
    queue, eid = check_environment(env)
    events = 0
    while queue and not queue[0][0] > stop:
        now, _, _, event = heappop(queue)
        env._now = now
        callbacks, event.callbacks = event.callbacks, None
        events += 1
        try:
            for callback in callbacks:
                callback(event)
        except StopIteration as returned:
            # a walk returned: its end, scheduled as simpy.Process schedules itself
            end = Wake()
            end.callbacks = [] if returned.value is None else [returned.value]
            heappush(queue, (now, NORMAL, next(eid), end))
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
    return events
