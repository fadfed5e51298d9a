"""What the editor is told about the language: keywords, distributions, hover help, model ids."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flowsim.dsl.builder import _Builder
from flowsim.dsl.keywords import KEYWORDS
from flowsim.studio.keyword_help import DISTRIBUTIONS, HELP
from tests.studio.helpers import Live, call

ROOT = Path(__file__).resolve().parents[2]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "build_editor_help", ROOT / "scripts" / "build_editor_help.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hover_help_is_what_docs_language_md_says_now() -> None:
    """keyword_help.py is generated (`make editor`): it must match the reference as it is."""
    build = _generator().build
    assert build((ROOT / "docs" / "language.md").read_text(encoding="utf-8")) == HELP


def test_every_keyword_and_distribution_has_help() -> None:
    assert set(HELP) == set(KEYWORDS) | set(DISTRIBUTIONS)
    # the parser's distributions, plus empirical (a list, not a call)
    assert set(DISTRIBUTIONS) == set(_Builder._PARAMS) | {"empirical"}
    assert HELP["owner"] == "owner ROLE: the role that does the work (unknown: E104)"
    assert HELP["stage"].startswith('stage ID "LABEL" { — A stage is a step of the sales process')
    assert HELP["lognormal"].startswith("lognormal(mean x, sd y)")
    assert all(10 < len(text) < 400 and "`" not in text for text in HELP.values())


def test_the_language_route_sends_keywords_distributions_and_help(live: Live) -> None:
    r = call(live, "GET", "/api/language")
    assert r.status == 200
    body = r.json()
    assert body["keywords"] == sorted(KEYWORDS)
    assert body["distributions"] == list(DISTRIBUTIONS)
    assert body["help"] == HELP
    assert call(live, "GET", "/api/language", token=None).status == 403


def test_the_render_answer_names_the_models_ids(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    body = call(live, "POST", "/api/render", {"text": text}).json()
    assert body["symbols"] == {
        "stage": ["lead", "offer"],
        "outcome": ["won", "lost"],
        "role": ["rep"],
        "department": ["sales"],
        "persona": [],
    }
    # a text with errors that leave no model has none: the page keeps the last ids it had
    broken = call(live, "POST", "/api/render", {"text": text.replace("owner rep", "owner x")})
    assert broken.json()["ok"] is False
    assert broken.json()["symbols"] is None
    assert call(live, "POST", "/api/render", {"text": "stage {"}).json()["symbols"] is None
