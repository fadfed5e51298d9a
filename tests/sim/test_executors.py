"""Executors: the same seed gives the same result in-process, on a pool, and on Dask."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import LocalCluster

import flowsim
from flowsim.sim.simulate import simulate

KW = {"replications": 6, "seed": 21, "until": 24 * 60.0, "scenarios": ["方案提速30%"]}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield c


def test_dask_cluster_gives_the_same_result_as_one_process(cluster: LocalCluster) -> None:
    process = flowsim.load("examples/b2b-cn.flow")
    local = simulate(process, workers=1, **KW)  # type: ignore[arg-type]
    remote = simulate(process, cluster=cluster.scheduler_address, **KW)  # type: ignore[arg-type]
    assert remote.model_dump_json() == local.model_dump_json()
    assert remote.event_log.frame.equals(local.event_log.frame)


def test_an_executor_object_works_too(cluster: LocalCluster) -> None:
    from distributed import Client

    process = flowsim.load("examples/b2b-cn.flow")
    local = simulate(process, workers=1, **KW)  # type: ignore[arg-type]
    with Client(cluster.scheduler_address) as client, client.get_executor() as executor:
        remote = simulate(process, executor=executor, **KW)  # type: ignore[arg-type]
    assert remote.model_dump_json() == local.model_dump_json()


def test_unreachable_cluster_is_a_clear_error() -> None:
    process = flowsim.load("examples/b2b-cn.flow")
    with pytest.raises(RuntimeError, match="cannot reach the Dask scheduler"):
        simulate(process, cluster="tcp://127.0.0.1:9", replications=2, until=240.0, warmup=0)
