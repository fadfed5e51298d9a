"""The trust gate: a simulation of history says first when the model fails its fidelity check.

A run that replays (or starts from) real deals reads as a statement about that business; when
the model does not reproduce the history it came with, its figures are conditional. Before
anyone reads them, :func:`trust_check` runs one replication of :func:`flowsim.fidelity` (the
model against the later part of the history, beside the history's own noise floor): when the
model is worse than the gate (:data:`~flowsim.sim.fidelity.TRUST_FACTOR` times the floor),
:func:`gate` puts the verdict first among the result's warnings. :func:`flowsim.simulate` and
:func:`flowsim.bottlenecks` apply it (``check_fidelity=True``), so Python and the
``flowsim simulate``/``bottlenecks`` commands say the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowsim.history.log import DealLog
    from flowsim.model import Process
    from flowsim.sim.fidelity import FidelityResult
    from flowsim.sim.result import SimulationResult

__all__ = ["gate", "trust_check"]


def trust_check(
    process: Process, history: DealLog | None, *, seed: int = 0, tz: str = "UTC"
) -> FidelityResult | None:
    """One replication of :func:`flowsim.fidelity`, or None when it cannot judge.

    None without history, without arrivals to simulate, or when the history is too short
    for a hold-out (the fidelity check's ``InputError``): there is then nothing to say.
    """
    from flowsim.sim.fidelity import fidelity

    if history is None or process.arrivals is None:
        return None
    try:
        return fidelity(process, history, replications=1, seed=seed, tz=tz)
    except ValueError:
        return None


def gate(
    result: SimulationResult,
    process: Process,
    history: DealLog | None,
    *,
    seed: int = 0,
    tz: str = "UTC",
) -> SimulationResult:
    """``result`` with the fidelity verdict (English) first among its warnings, when failing.

    The check itself is kept with the result (:attr:`SimulationResult.fidelity_check`), so
    the verdict can be shown in another language (``result.fidelity_check.verdict("zh")``).
    """
    check = trust_check(process, history, seed=seed, tz=tz)
    verdict = check.verdict() if check is not None else None
    if verdict:
        result = result.model_copy(update={"warnings": [verdict, *result.warnings]})
    result._fidelity_check = check
    return result
