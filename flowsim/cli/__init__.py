"""The ``flowsim`` command: a thin layer over the Python API.

Exit codes: 0 ok, 1 problems in the user's input (or findings), 2 usage errors, 3 internal
errors (a bug: please report it; set FLOWSIM_DEBUG=1 for the traceback).

One module per command group: :mod:`.lang` (check, fmt, export, render, schema),
:mod:`.history` (metrics, conformance, discover), :mod:`.sim` (simulate, bottlenecks,
fidelity, run), :mod:`.forecast`, :mod:`.studio`; what they share is in :mod:`._common` and
:mod:`._logs`.
"""

from __future__ import annotations

import click

from flowsim import __version__
from flowsim.cli import feedback, forecast, history, lang, sim, studio

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowsim")
def main() -> None:
    """Design a sales process as text, draw it, and test it against its own history."""


for _command in (
    lang.check,
    lang.fmt,
    lang.export,
    lang.render,
    history.metrics,
    history.conformance,
    history.discover,
    feedback.feedback,
    lang.schema,
    sim.simulate,
    sim.bottlenecks,
    sim.fidelity,
    sim.run_cmd,
    forecast.forecast,
    studio.studio,
):
    main.add_command(_command)
