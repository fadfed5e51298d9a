"""Pain points from comments: the frequent complaint themes per touchpoint.

A *complaint* is the comment of a negative answer (the scale's negative band: 1-5: 1-2;
0-10: 0-6; −2..+2: below 0). Each comment is cut into words: Chinese text by jieba (the
field's standard segmenter, accurate mode, its own dictionary; the ``text`` extra), other text
by runs of letters and digits, lower-cased. Words of one character, numbers and the stop
words (:data:`STOP_WORDS`: function words of both languages) are left out. A theme is a word
and its count is the number of complaints of the touchpoint that contain it (a comment saying
it twice counts once); themes are ranked by count, then by the word, and listed with the
first two complaints (in file order) that contain them. Only words in at least two
complaints are themes.

A designed ``pain`` text of the touchpoint is cut the same way; a theme *matches* it when the
pain's words contain the theme's word (``表单字段太多`` and the theme ``字段``).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from functools import cache

import polars as pl
from pydantic import ConfigDict

from flowsim._base import FlowsimModel
from flowsim._extras import missing
from flowsim.graph import phase_order
from flowsim.history.feedback.journey import place
from flowsim.history.feedback.read import FeedbackLog
from flowsim.model import Process
from flowsim.result import html_table

__all__ = ["STOP_WORDS", "PainPoints", "Theme", "TouchpointThemes", "pain_points", "words"]

#: function words left out of themes (English and Chinese)
STOP_WORDS = frozenset(
    """a an the and or but if then so of to in on at by for with from as is are was were be been
    it its this that these those i we you they he she me us our your my not no too very just
    have has had do does did can could would should will about after again all also any
    much many more most there here what when which who how than out up down over only
    的 了 和 与 及 是 在 就 都 也 很 太 还 又 再 我 我们 你 你们 他 他们 她 它 这 那 这个 那个
    有 没 没有 不 一个 一 个 吗 呢 吧 啊 着 过 被 把 让 给 对 说 要 会 能 得 地 之 而 且 但
    但是 所以 因为 如果 非常 比较 一些 还是 已经 就是 什么 怎么""".split()
)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@cache
def _jieba() -> object:
    """jieba, imported once, quiet (its dictionary notes go to a logger)."""
    try:
        import jieba
    except ImportError as err:
        raise missing(err, "segmenting Chinese comments") from err
    jieba.setLogLevel(logging.WARNING)
    return jieba


def words(text: str) -> set[str]:
    """The theme words of one text (module doc): Chinese by jieba, other text by words.

    >>> sorted(words("The demo environment was slow, slow!"))
    ['demo', 'environment', 'slow']
    """
    if _CJK.search(text):
        tokens: Iterable[str] = _jieba().lcut(text)  # type: ignore[attr-defined]
    else:
        tokens = _WORD.findall(text)
    out = set()
    for token in tokens:
        word = token.strip().lower()
        if len(word) < 2 or word.isdigit() or word in STOP_WORDS or not _WORD.fullmatch(word):
            continue
        out.add(word)
    return out


class Theme(FlowsimModel):
    """A complaint theme: its word, how many complaints hold it, two of them, matched pains."""

    model_config = ConfigDict(frozen=True)

    word: str
    count: int
    examples: list[str]
    pains: list[str]


class TouchpointThemes(FlowsimModel):
    """The themes of one touchpoint (``touchpoint`` None: answers naming the stage only)."""

    model_config = ConfigDict(frozen=True)

    stage: str
    phase: str
    touchpoint: str | None
    complaints: int
    themes: list[Theme]
    #: designed pain texts no theme matches
    unmatched_pains: list[str]


class PainPoints(FlowsimModel):
    """Complaint themes per touchpoint (module doc); follows :class:`flowsim.Result`."""

    model_config = ConfigDict(frozen=True)

    process: str
    source: str
    complaints: int
    touchpoints: list[TouchpointThemes]

    def to_frame(self) -> pl.DataFrame:
        """One row per theme: phase, touchpoint, word, count, examples, matched pains."""
        rows = [
            {
                "phase": t.phase,
                "touchpoint": t.touchpoint,
                "theme": th.word,
                "count": th.count,
                "examples": " | ".join(th.examples),
                "pains": " | ".join(th.pains),
            }
            for t in self.touchpoints
            for th in t.themes
        ]
        schema = dict.fromkeys(["phase", "touchpoint", "theme", "examples", "pains"], pl.String)
        return pl.DataFrame(rows, schema={**schema, "count": pl.Int64}).select(
            "phase", "touchpoint", "theme", "count", "examples", "pains"
        )

    def to_json(self) -> str:
        """Every theme as JSON."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2)

    def _repr_html_(self) -> str:
        return html_table(f"pain points: {self.process}", self.to_frame())

    def text(self) -> str:
        """The themes as a person reads them."""
        from flowsim.history.feedback.report import themes_text

        return themes_text(self)


def _themes(comments: list[str], pains: tuple[str, ...], top: int) -> tuple[list[Theme], list[str]]:
    """The ``top`` themes of ``comments`` and the pains no theme matches."""
    segmented = {c: words(c) for c in dict.fromkeys(comments)}
    counts: Counter[str] = Counter()
    for comment in comments:
        counts.update(segmented[comment])
    ranked = sorted((w for w, n in counts.items() if n >= 2), key=lambda w: (-counts[w], w))
    pain_words = {pain: words(pain) for pain in pains}
    themes = []
    for word in ranked[:top]:
        examples = list(dict.fromkeys(c for c in comments if word in segmented[c]))[:2]
        matched = [pain for pain, ws in pain_words.items() if word in ws]
        themes.append(Theme(word=word, count=counts[word], examples=examples, pains=matched))
    hit = {pain for t in themes for pain in t.pains}
    return themes, [pain for pain in pains if pain not in hit]


def pain_points(feedback: FeedbackLog, process: Process, *, top: int = 5) -> PainPoints:
    """The ``top`` complaint themes of each touchpoint of ``process`` (module doc).

    Parameters
    ----------
    feedback : FeedbackLog
        The answers, with their comments.
    process : Process
        The designed process: its touchpoints and their ``pain`` texts.
    top : int
        Themes listed per touchpoint at most.

    Returns
    -------
    PainPoints

    Raises
    ------
    MissingExtra
        A Chinese comment and jieba is not installed (``pip install 'flowsim[text]'``).

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> fb = flowsim.read_feedback("examples/history/b2b-cn-feedback.csv")
    >>> contract = flowsim.pain_points(fb, process).touchpoints[-1]
    >>> contract.touchpoint, contract.themes[0].word, contract.themes[0].count
    ('合同评审', '法务', 27)
    >>> contract.themes[0].pains
    ['法务往返次数多']
    """
    placed = place(feedback, process).filter(
        pl.col("comment").is_not_null() & (pl.col("score") <= feedback.scale.negative_below)
    )
    stages = {s.id: s for s in process.stages}
    out: list[TouchpointThemes] = []
    for sid in phase_order(process):
        stage = stages[sid]
        mine = placed.filter(pl.col("stage_id") == sid)
        targets = [(tp.name, tp.pains) for tp in stage.touchpoints] + [(None, ())]
        for name, pains in targets:
            chosen = mine.filter(
                pl.col("touchpoint_name").is_null()
                if name is None
                else pl.col("touchpoint_name") == name
            )
            if name is None and chosen.height == 0:
                continue
            comments = chosen["comment"].to_list()
            themes, unmatched = _themes(comments, pains, top)
            out.append(
                TouchpointThemes(
                    stage=sid,
                    phase=stage.label or sid,
                    touchpoint=name,
                    complaints=len(comments),
                    themes=themes,
                    unmatched_pains=unmatched,
                )
            )
    return PainPoints(
        process=process.name,
        source=feedback.report.source,
        complaints=placed.filter(pl.col("stage_id").is_not_null()).height,
        touchpoints=out,
    )
