"""Visual edits written as text (flowsim.edit): the intended model, comments and layout kept.

The property: for a generated ``.flow`` text full of comments and an edit drawn from what
that text declares, the edited text parses to the model the edit describes (checked here
independently of the module's own check), every comment is still there, and the lines the
edit does not concern are unchanged and in their order.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowsim
from flowsim.edit import (
    AddStage,
    AddTransition,
    EditError,
    RemoveTransition,
    SetHeadcount,
    SetOwner,
    SetProbability,
    apply_edit,
)

COMMENT = re.compile(r"#.*$")


@st.composite
def flow_texts(draw: st.DrawFn) -> str:
    """A chain of 2-6 stages over 1-3 roles, with comments above and beside declarations."""
    n = draw(st.integers(2, 6))
    roles = draw(st.integers(1, 3))
    comment = st.sampled_from(["", "  # why: {}", "  # TODO {} <b>&</b>"])
    own_line = st.sampled_from(["", "# section {}\n", "# {} -- keep me\n\n"])
    out = ['process "Generated" {', "  arrivals 10 per week", "}", ""]
    out.append('department sales "Sales"')
    for r in range(roles):
        out.append(f'role r{r} "Role {r}" in sales headcount {r + 1}' + draw(comment).format(r))
    for i in range(n):
        out.append(draw(own_line).format(f"s{i}").rstrip("\n"))
        out += [f'stage s{i} "Stage {i}" {{', f"  owner r{draw(st.integers(0, roles - 1))}"]
        out += ["  effort 1h" + draw(comment).format(i), "}"]
        nxt = f"s{i + 1}" if i < n - 1 else "won"
        pct = draw(st.integers(5, 95))
        out += [f"s{i} -> {nxt} {pct}%" + draw(comment).format(i), f"s{i} -> lost"]
        if i < n - 1 and draw(st.booleans()):  # a shortcut to the end, for a removal
            out.append(f"s{i} -> won 2%" + draw(comment).format("shortcut"))
    out += ['outcome won "Won"', 'outcome lost "Lost"  # the rest']
    return "\n".join(out) + "\n"


@st.composite
def edits(draw: st.DrawFn, text: str) -> Any:
    p = flowsim.parse(text)
    stages = [s.id for s in p.stages]
    roles = [r.id for r in p.roles]
    forward = [t for t in p.transitions if t.target != "lost"]
    kind = draw(st.sampled_from(["add_stage", "add", "remove", "prob", "owner", "headcount"]))
    if kind == "add_stage":
        return AddStage(
            draw(st.sampled_from(stages)), "new_stage", draw(st.sampled_from([None, "New"]))
        )
    to_won = {t.source for t in p.transitions if t.target == "won"}
    shortcuts = [t for t in p.transitions if t.target == "won" and t.source != stages[-1]]
    if kind == "add" and set(stages) - to_won:  # a way to win, from what went to `lost`
        source = draw(st.sampled_from(sorted(set(stages) - to_won)))
        return AddTransition(source, "won", draw(st.sampled_from([0.01, 0.04])))
    if kind == "remove" and shortcuts:
        t = draw(st.sampled_from(shortcuts))
        return RemoveTransition(t.source, t.target)
    if kind in ("prob", "add", "remove"):  # leaving some share for `lost`, as it must
        t = draw(st.sampled_from(forward))
        others = sum(x.probability or 0 for x in p.transitions if x.source == t.source and x != t)
        value = draw(st.sampled_from([v for v in (0.01, 0.5, 0.9) if v + others < 0.995]))
        return SetProbability(t.source, t.target, value)
    if kind == "owner":
        return SetOwner(draw(st.sampled_from(stages)), draw(st.sampled_from(roles)))
    return SetHeadcount(draw(st.sampled_from(roles)), draw(st.integers(1, 50)))


def intended(text: str, edit: Any) -> dict[str, Any]:
    """The model the edit describes, made here from the parsed model by hand."""
    p = flowsim.parse(text).semantic_dump()
    trs = p["transitions"]
    if isinstance(edit, SetProbability):
        for t in trs:
            if (t["source"], t["target"]) == (edit.source, edit.target):
                t["probability"] = edit.probability
                break
    elif isinstance(edit, RemoveTransition):
        i = next(
            i for i, t in enumerate(trs) if (t["source"], t["target"]) == (edit.source, edit.target)
        )
        del trs[i]
    elif isinstance(edit, AddTransition):
        trs.append(
            {
                "source": edit.source,
                "target": edit.target,
                "probability": edit.probability,
                "label": None,
            }
        )
    elif isinstance(edit, SetOwner):
        next(s for s in p["stages"] if s["id"] == edit.stage)["owner"] = edit.role
    elif isinstance(edit, SetHeadcount):
        next(r for r in p["roles"] if r["id"] == edit.role)["headcount"] = edit.headcount
    else:
        return _intended_stage(text, edit)
    return p


def _intended_stage(text: str, edit: AddStage) -> dict[str, Any]:
    p = flowsim.parse(text)
    owner = next(s.owner for s in p.stages if s.id == edit.after)
    stage = flowsim.Stage(id=edit.id, label=edit.label, owner=owner)
    i = [s.id for s in p.stages].index(edit.after) + 1
    moved = [
        t.model_copy(update={"source": edit.id}) if t.source == edit.after else t
        for t in p.transitions
    ]
    into = flowsim.Transition(source=edit.after, target=edit.id)
    return p.model_copy(
        update={"stages": (*p.stages[:i], stage, *p.stages[i:]), "transitions": (*moved, into)}
    ).semantic_dump()


def comments_of(text: str) -> list[str]:
    return [m.group(0) for line in text.splitlines() if (m := COMMENT.search(line))]


def unordered(data: dict[str, Any]) -> dict[str, Any]:
    return {k: sorted(map(repr, v)) if isinstance(v, list) else v for k, v in data.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_an_edit_gives_the_intended_model_and_keeps_comments_and_layout(
    data: st.DataObject,
) -> None:
    text = data.draw(flow_texts())
    edit = data.draw(edits(text))
    new = apply_edit(text, edit)
    assert unordered(flowsim.parse(new).semantic_dump()) == unordered(intended(text, edit))
    assert comments_of(new) == comments_of(text)
    # only the lines the edit concerns change: one line, or for a new stage the arrows it takes
    removed = [d for d in difflib.ndiff(text.splitlines(), new.splitlines()) if d.startswith("- ")]
    if isinstance(edit, AddTransition):
        assert removed == []
    elif isinstance(edit, AddStage):
        assert all(d[2:].startswith(f"{edit.after} -> ") for d in removed)
    else:  # the one line it concerns (none when the value was already that)
        assert len(removed) <= 1


def test_each_edit_on_the_studio_example_changes_one_place() -> None:
    text = (
        'role rep "Rep" headcount 2  # two for now\n'
        'stage lead "Lead" {\n  owner rep  # who\n  effort 1h\n}\n'
        'stage offer "Offer" { owner rep }\n'
        'outcome won "Won"\noutcome lost "Lost"\n'
        "lead -> offer 50%  # half\nlead -> lost\noffer -> won 40%\noffer -> lost\n"
    )
    assert (
        apply_edit(text, SetHeadcount("rep", 3)).splitlines()[0]
        == 'role rep "Rep" headcount 3  # two for now'
    )
    assert "lead -> offer 25%  # half" in apply_edit(text, SetProbability("lead", "offer", 0.25))
    removed = apply_edit(text, RemoveTransition("offer", "won"))
    assert "offer -> won" not in removed and removed.count("\n") == text.count("\n") - 1
    added = apply_edit(text, AddStage("lead", "qualify", "Qualify"))
    assert 'stage qualify "Qualify" {\n  owner rep\n}\nlead -> qualify\n' in added
    assert "qualify -> offer 50%  # half\nqualify -> lost\n" in added


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (SetProbability("lead", "nowhere", 0.5), "there is no transition lead -> nowhere"),
        (SetOwner("lead", "ghost"), "there is no role 'ghost'"),
        (AddStage("lead", "offer"), "'offer' cannot be the new stage's id"),
        (AddStage("lead", "two words"), "cannot be the new stage's id"),
        (SetProbability("lead", "offer", 1.5), "probability 150% is outside 0%..100%"),
        (SetProbability("lead", "offer", None), "'lead' has 2 transitions without a probability"),
        (AddTransition("nobody", "won"), "there is no stage 'nobody'"),
    ],
)
def test_an_edit_that_cannot_be_made_is_refused_with_a_reason(edit: Any, message: str) -> None:
    text = (
        'role rep "Rep" headcount 2\nstage lead "Lead" { owner rep }\n'
        'stage offer "Offer" { owner rep }\n'
        'outcome won "Won"\noutcome lost "Lost"\nlead -> offer 50%\nlead -> lost\noffer -> won\n'
    )
    with pytest.raises(EditError, match=re.escape(message)):
        apply_edit(text, edit)


def test_a_text_with_errors_is_not_edited() -> None:
    with pytest.raises(EditError, match="the text has errors"):
        apply_edit("stage a {\n", SetHeadcount("rep", 2))
