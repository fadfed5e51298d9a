"""Samplers: values come from numpy blocks, in stream order, however they are asked for."""

from __future__ import annotations

import numpy as np

from flowsim.model import LogNormal, Triangular
from flowsim.sim.sampling import BLOCK, Sampler, Streams, block_sampler


def test_values_are_the_blocks_in_order_across_block_boundaries() -> None:
    dist = LogNormal(mean=72.0, sd=48.0)
    draw = block_sampler(dist)
    want = np.concatenate([draw(g, BLOCK) for g in [np.random.default_rng(7)] * 3])
    sampler = Sampler(draw, np.random.default_rng(7))
    # the call form and the hot-path form share one position in the stream
    got = [sampler() if i % 3 else sampler.next() for i in range(3 * BLOCK)]
    assert got == want.tolist()


def test_blocks_are_drawn_lazily_so_other_uses_of_the_stream_interleave_the_same_way() -> None:
    """A block is drawn only when the previous one is used up, never ahead of time."""
    draw = block_sampler(Triangular(low=1.0, mode=2.0, high=4.0))
    rng = np.random.default_rng(3)
    sampler = Sampler(draw, rng)
    first = sampler()
    state = rng.bit_generator.state
    for _ in range(BLOCK - 1):
        sampler()
    assert rng.bit_generator.state == state  # still on the first block
    sampler()
    assert rng.bit_generator.state != state  # the second block was drawn just now
    assert first == draw(np.random.default_rng(3), BLOCK)[0]


def test_streams_repeat_per_purpose_and_differ_between_purposes() -> None:
    streams = Streams(seed=5, replication=2)
    a = streams.uniform("route:needs")
    b = streams.uniform("route:needs")
    c = streams.uniform("route:design")
    xs = [a() for _ in range(10)]
    assert xs == [b.next() for _ in range(10)]
    assert xs != [c() for _ in range(10)]
    assert streams.sampler(None, "wait:needs") is None
