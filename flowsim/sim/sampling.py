"""Random numbers for the engine: named streams and block samplers.

Two rules keep simulations fast, reproducible and comparable:

* **Blocks, not calls.** A sampler draws 1,024 values at once from numpy and hands them out
  one by one; one numpy (or scipy) call per sample is a known cause of slow simulators.
* **One stream per purpose.** Arrivals, deal amounts, and each stage's routing, effort and wait
  each get their own generator, derived from the root seed, the replication number and the
  purpose's *name* (not its position). A scenario that changes one stage therefore leaves the
  random numbers of every other purpose untouched: baseline and scenario see the same deals
  with the same draws (common random numbers), so their difference is mostly the change itself.
  Distributions are sampled by transforming a standard variate (``mean * E``, ``exp(mu + s Z)``,
  ``theta * G(k)``), so stretching a distribution by a factor stretches the very same draws.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from itertools import chain, repeat

import numpy as np

from flowsim.model import (
    Distribution,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
)

__all__ = ["BLOCK", "Sampler", "Streams", "block_sampler"]

#: values drawn per numpy call
BLOCK = 1024

Block = Callable[[np.random.Generator, int], np.ndarray]


class Streams:
    """Independent generators for one replication, keyed by purpose name.

    ``Streams(seed, replication)`` spawns the replication's seed sequence the way
    ``SeedSequence(seed).spawn(n)[replication]`` does, and each purpose's generator from that
    by a stable hash of its name, so adding a stage or a scenario never shifts other streams.
    """

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = int(seed)
        self.replication = int(replication)

    def rng(self, purpose: str) -> np.random.Generator:
        """A new generator for ``purpose`` (e.g. ``"arrivals"``, ``"effort:design"``).

        Every call returns a fresh generator in the same state: two samplers of one purpose
        (a stage's baseline and scenario effort in a replay) see the very same draws.
        """
        key = zlib.crc32(purpose.encode("utf-8"))
        seq = np.random.SeedSequence(self.seed, spawn_key=(self.replication, key))
        return np.random.Generator(np.random.PCG64(seq))

    def uniform(self, purpose: str) -> Sampler:
        """A sampler of U[0, 1) values (routing decisions)."""
        return Sampler(lambda g, n: g.random(n), self.rng(purpose))

    def sampler(self, dist: Distribution | None, purpose: str) -> Sampler | None:
        """A sampler for ``dist`` on the ``purpose`` stream (None when there is no dist)."""
        if dist is None:
            return None
        return Sampler(block_sampler(dist), self.rng(purpose))


class Sampler:
    """Hands out values of one distribution, drawn from numpy in blocks.

    ``sampler()`` or, in hot loops, ``sampler.next()``: ``next`` is the ``__next__`` of a
    ``chain`` over the blocks, so handing out a value runs in C and only a new block calls
    back into Python (numpy). Blocks are drawn lazily, one when the last one is used up, so
    the values and the stream's consumption are the same whichever way they are asked for.
    """

    __slots__ = ("next",)

    def __init__(self, draw: Block, rng: np.random.Generator) -> None:
        blocks = (draw(rng, BLOCK).tolist() for _ in repeat(None))
        self.next: Callable[[], float] = chain.from_iterable(blocks).__next__

    def __call__(self) -> float:
        return self.next()


def block_sampler(dist: Distribution) -> Block:
    """A function drawing ``n`` values of ``dist`` (hours, or money for amounts) at once.

    Normal values below zero are clipped to zero (a duration or an amount cannot be negative);
    log-normal and gamma are parametrised by their mean and standard deviation, as written.
    """
    if isinstance(dist, Fixed):
        value = float(dist.value)
        return lambda g, n: np.full(n, value)
    if isinstance(dist, Uniform):
        low, width = float(dist.low), float(dist.high - dist.low)
        return lambda g, n: low + width * g.random(n)
    if isinstance(dist, Triangular):
        return _triangular(float(dist.low), float(dist.mode), float(dist.high))
    if isinstance(dist, Exponential):
        mean = float(dist.mean)
        return lambda g, n: mean * g.standard_exponential(n)
    if isinstance(dist, Normal):
        mu, sd = float(dist.mean), float(dist.sd)
        return lambda g, n: np.maximum(mu + sd * g.standard_normal(n), 0.0)
    if isinstance(dist, LogNormal):
        if dist.mean <= 0:
            return lambda g, n: np.zeros(n)
        s2 = math.log1p((dist.sd / dist.mean) ** 2)
        mu, s = math.log(dist.mean) - s2 / 2, math.sqrt(s2)
        return lambda g, n: np.exp(mu + s * g.standard_normal(n))
    if isinstance(dist, Gamma):
        if dist.mean <= 0:
            return lambda g, n: np.zeros(n)
        if dist.sd <= 0:
            value = float(dist.mean)
            return lambda g, n: np.full(n, value)
        shape = (dist.mean / dist.sd) ** 2
        scale = dist.sd**2 / dist.mean
        return lambda g, n: scale * g.standard_gamma(shape, n)
    if isinstance(dist, Empirical):
        values = np.asarray(dist.values, dtype=float)
        return lambda g, n: values[g.integers(0, len(values), n)]
    raise TypeError(f"not a distribution: {dist!r}")


def _triangular(low: float, mode: float, high: float) -> Block:
    """Inverse-CDF triangular sampling from one uniform per value (numpy's refuses low==high)."""
    if high <= low:
        return lambda g, n: np.full(n, low)
    cut = (mode - low) / (high - low)

    def draw(g: np.random.Generator, n: int) -> np.ndarray:
        u = g.random(n)
        left = low + np.sqrt(u * (high - low) * (mode - low))
        right = high - np.sqrt((1 - u) * (high - low) * (high - mode))
        return np.where(u < cut, left, right)

    return draw
