"""Optional dependencies: which extra installs each, and the error when one is missing.

The core install reads deal logs (CSV, Parquet, XES), checks, draws SVG, simulates and
writes reports. Features that need a heavy or specialised package name it as an *extra*::

    pip install 'flowsim[excel]'   # .xlsx deal logs (openpyxl)
    pip install 'flowsim[sql]'     # PostgreSQL deal logs (psycopg)
    pip install 'flowsim[png]'     # PNG and PDF pictures (cairosvg)
    pip install 'flowsim[pandas]'  # results as pandas frames
    pip install 'flowsim[studio]'  # the live editor (starlette, uvicorn, watchfiles)
    pip install 'flowsim[cluster]' # simulate on a Dask cluster (distributed)
    pip install 'flowsim[text]'    # Chinese feedback comments segmented into words (jieba)
    pip install 'flowsim[all]'     # everything

A missing one raises :class:`MissingExtra` naming the command that installs it, never a bare
``ModuleNotFoundError``. ``tests/test_extras.py`` holds this table to ``pyproject.toml``.
"""

from __future__ import annotations

from flowsim.errors import FlowsimError

__all__ = ["EXTRAS", "MissingExtra", "missing"]

#: The top-level module of each optional dependency and the extra that installs it.
EXTRAS: dict[str, str] = {
    "openpyxl": "excel",
    "psycopg": "sql",
    "cairosvg": "png",
    "pandas": "pandas",
    "starlette": "studio",
    "uvicorn": "studio",
    "watchfiles": "studio",
    "distributed": "cluster",
    "jieba": "text",
}


class MissingExtra(FlowsimError, ImportError):
    """A feature needs an optional dependency that is not installed.

    The message names the feature and the ``pip install`` command; the CLI prints it and
    exits 2 (a usage problem: the install, not the input).
    """


def missing(err: ImportError, feature: str) -> ImportError:
    """The error to raise for ``err``, caught while importing what ``feature`` needs.

    An optional dependency gets a :class:`MissingExtra` with the command that installs it;
    any other import error (a broken install) is returned unchanged, to be raised as is.

    Examples
    --------
    >>> str(missing(ModuleNotFoundError(name="openpyxl"), "reading .xlsx files"))
    "reading .xlsx files needs openpyxl: pip install 'flowsim[excel]'"
    """
    top = (err.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return err
    found = MissingExtra(f"{feature} needs {top}: pip install 'flowsim[{extra}]'")
    found.name = top
    return found
