"""The parser and builder: what each construct means once parsed."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowsim
from flowsim.model import (
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    IntervalArrivals,
    LogNormal,
    Normal,
    RateArrivals,
    Triangular,
    Uniform,
)


def codes(text: str) -> list[str]:
    return [d.code for d in flowsim.check_text(text).diagnostics]


def test_issue_example_parses_exactly(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    assert p.name == "B2B 大客户销售"
    assert p.currency == "CNY"
    assert isinstance(p.arrivals, RateArrivals)
    assert (p.arrivals.count, p.arrivals.per) == (40, "week")
    assert p.calendar is not None
    assert p.calendar.days == (0, 1, 2, 3, 4)
    assert [(w.start, w.end) for w in p.calendar.windows] == [(540, 1080)]
    assert p.calendar.timezone == "Asia/Shanghai"
    assert [d.id for d in p.departments] == ["sales", "presales", "legal", "service"]
    assert [(r.id, r.department, r.headcount) for r in p.roles] == [
        ("rep", "sales", 6),
        ("se", "presales", 3),
        ("counsel", "legal", 2),
        ("csm", "service", 3),
    ]
    assert [s.id for s in p.stages] == ["contact", "needs", "design", "negotiate"]
    contact = p.stages[0]
    assert contact.label == "初步接触"
    assert contact.owner == "rep"
    assert contact.goals == ("获取客户基本信息",)
    assert contact.exits == ("联系人、预算、时间线已确认",)
    assert contact.effort == Triangular(low=1, mode=2, high=4)
    assert contact.wait == LogNormal(mean=72, sd=48)
    assert [(t.name, t.channel, t.emotion, t.pains) for t in contact.touchpoints] == [
        ("电话沟通", "phone", 3, ()),
        ("官网表单", "web", 2, ("表单字段太多",)),
    ]
    assert p.stages[1].effort == Uniform(low=2, high=6)
    assert p.stages[2].wait == Exponential(mean=96)
    assert p.stages[3].effort == Gamma(mean=6, sd=2)
    assert [(o.id, o.result, o.owner) for o in p.outcomes] == [
        ("won", "won", "csm"),
        ("lost", "lost", None),
    ]
    assert p.entry is not None and p.entry.id == "contact"
    out = {(t.target, t.label): round(prob, 9) for t, prob in p.outgoing("design")}
    assert out == {("negotiate", None): 0.7, ("needs", "需求变更"): 0.1, ("lost", None): 0.2}
    assert [s.name for s in p.scenarios] == ["增加两名售前", "方案提速30%"]


def test_example_is_clean_of_errors(b2b_path: Path) -> None:
    result = flowsim.check_file(b2b_path)
    assert result.ok
    assert all(d.code in {"W102", "W103"} for d in result.warnings)


def test_one_line_and_block_forms_mean_the_same() -> None:
    block = """
    role rep in sales headcount 2
    department sales
    stage needs "需求分析" {
      owner rep
      goal "g"
    }
    outcome won
    needs -> won
    """
    inline = """
    role rep { in sales headcount 2 }
    department sales
    stage needs "需求分析" owner rep goal "g"
    outcome won
    needs -> won
    """
    assert flowsim.parse(block) == flowsim.parse(inline)


def test_newlines_are_not_significant() -> None:
    a = flowsim.parse("stage a owner r role r outcome won a -> won 100%")
    b = flowsim.parse("stage a\n owner r\nrole r\noutcome won\na\n->\nwon\n100\n%\n")
    assert a == b


def test_durations_and_units() -> None:
    p = flowsim.parse(
        "stage a { effort 30m wait 1.5d }\nstage b { effort 2w wait fixed(4h) }\n"
        "outcome won\na -> b\nb -> won\n"
    )
    assert p.stages[0].effort == Fixed(value=0.5)
    assert p.stages[0].wait == Fixed(value=36)
    assert p.stages[1].effort == Fixed(value=336)
    assert p.stages[1].wait == Fixed(value=4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("normal(mean 3d, sd 1d)", Normal(mean=72, sd=24)),
        ("normal(3d, 1d)", Normal(mean=72, sd=24)),
        ("lognormal(sd 2d, mean 3d)", LogNormal(mean=72, sd=48)),
        ("exponential(4h)", Exponential(mean=4)),
        ("triangular(min 1h, mode 2h, max 4h)", Triangular(low=1, mode=2, high=4)),
        ("uniform(low 1h, high 2h)", Uniform(low=1, high=2)),
        ("empirical[1h, 2h, 1d]", Empirical(values=(1, 2, 24))),
        ("gamma（mean 6h，sd 2h）", Gamma(mean=6, sd=2)),
    ],
)
def test_distributions(text: str, expected: object) -> None:
    p = flowsim.parse(f"stage a effort {text}\noutcome won\na -> won\n")
    assert p.stages[0].effort == expected


def test_arrivals_every() -> None:
    p = flowsim.parse('process "x" arrivals every exponential(4h)\nstage a\noutcome won\na -> won')
    assert isinstance(p.arrivals, IntervalArrivals)
    assert p.arrivals.interval == Exponential(mean=4)
    assert p.arrivals.per_hour == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount 25000", Fixed(value=25000)),
        ("amount lognormal(mean 200000, sd 80000)", LogNormal(mean=200000, sd=80000)),
        ("amount uniform(1000, 3000.5)", Uniform(low=1000, high=3000.5)),
        ("amount empirical[10, 20, 40]", Empirical(values=(10, 20, 40))),
    ],
)
def test_deal_amount_is_money_without_units(text: str, expected: object) -> None:
    p = flowsim.parse(f'process "x" {{ currency EUR {text} }}\nstage a\noutcome won\na -> won')
    assert p.amount == expected
    assert flowsim.parse(p.to_flow()).amount == expected


def test_amounts_are_money_and_durations_are_time_in_one_file() -> None:
    """An amount and a duration share the distribution syntax with opposite rules for units.

    A unit in an amount and a bare number in a duration are both E203, each with its own
    message; an amount too large to read (E204) does not change how the stage is read.
    """
    text = (
        'process "x" {\n  amount uniform(1000, 2d)\n}\n'
        "stage a {\n  effort exponential(mean 5)\n  wait uniform(1h, 3)\n}\n"
        "outcome won\na -> won\n"
    )
    found = [(d.code, d.message) for d in flowsim.check_text(text).diagnostics]
    assert found == [
        ("E203", "an amount is money, not time: '2d'"),
        ("E203", "exponential() mean needs a unit: '5'"),
        ("E203", "uniform() high needs a unit: '3'"),
    ]
    huge = text.replace("amount uniform(1000, 2d)", "amount " + "9" * 20)
    found = [(d.code, d.message) for d in flowsim.check_text(huge).diagnostics]
    assert found == [
        ("E204", "the number 99999999999999999999 is too large"),
        ("E203", "exponential() mean needs a unit: '5'"),
        ("E203", "uniform() high needs a unit: '3'"),
    ]


@pytest.mark.parametrize(
    ("text", "amount", "currency", "per"),
    [
        ("currency CNY target 2000000 CNY per quarter", 2000000, "CNY", "quarter"),
        ("target 2000000 CNY per quarter currency CNY", 2000000, "CNY", "quarter"),
        ("target 50000.5 per months", 50000.5, None, "month"),
        ("currency EUR target 12000 per week", 12000, None, "week"),
        ("target 1 per year", 1, None, "year"),
    ],
)
def test_sales_target(text: str, amount: float, currency: str | None, per: str) -> None:
    p = flowsim.parse(f'process "x" {{ {text} }}\nstage a\noutcome won\na -> won')
    assert p.target is not None
    assert (p.target.amount, p.target.currency, p.target.per) == (amount, currency, per)
    assert flowsim.parse(p.to_flow()).target == p.target


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("currency USD target 100 CNY per month", "the process currency is USD"),
        ("target 0 per month", "greater than 0"),
        ("target 100 per fortnight", "unknown target period"),
    ],
)
def test_bad_sales_target(text: str, message: str) -> None:
    result = flowsim.check_text(f'process "x" {{ {text} }}\nstage a\noutcome won\na -> won')
    assert [d.code for d in result.diagnostics if d.is_error] == ["E506"]
    assert message in result.diagnostics[0].message


def test_idle_rule_on_an_outcome() -> None:
    """``idle 90d``: deals quiet that long end in this outcome; the formatter keeps it."""
    p = flowsim.parse("stage a\noutcome won\noutcome quiet { result lost idle 90d }\na -> won")
    assert p.idle_outcome is not None
    assert (p.idle_outcome.id, p.idle_outcome.idle) == ("quiet", 90 * 24.0)
    assert "outcome quiet { result lost idle 90d }" in p.to_flow()
    assert flowsim.parse(p.to_flow()).idle_outcome == p.idle_outcome
    assert flowsim.parse("stage a\noutcome won\na -> won").idle_outcome is None


def test_probabilities_percent_and_fraction() -> None:
    p = flowsim.parse("stage a\noutcome w\noutcome l\na -> w 0.25\na -> l 75%\n")
    assert [t.probability for t in p.transitions] == [0.25, 0.75]


def test_remainder_edge_takes_the_rest() -> None:
    p = flowsim.parse("stage a\noutcome w\noutcome l\na -> w 35%\na -> l\n")
    assert [round(prob, 12) for _, prob in p.outgoing("a")] == [0.35, 0.65]
    assert p.transitions[1].probability is None


def test_entry_is_first_stage_unless_marked_start() -> None:
    text = "stage a\nstage b start\noutcome won\nb -> a\na -> won\n"
    assert flowsim.parse(text).entry.id == "b"  # type: ignore[union-attr]
    assert flowsim.parse("stage a\nstage b\noutcome won\na -> b\nb -> won").entry.id == "a"  # type: ignore[union-attr]


MIX = (
    "stage contact start 70%\nstage inbound start 0.3\nstage proposal\noutcome won\n"
    "contact -> proposal\ninbound -> proposal\nproposal -> won\n"
)


def test_entry_mix_shares_in_percent_or_fraction() -> None:
    p = flowsim.parse(MIX)
    assert [(s.id, share) for s, share in p.entries] == [("contact", 0.7), ("inbound", 0.3)]
    assert p.entry is not None and p.entry.id == "contact"  # the largest share


def test_entry_is_the_largest_share_first_declared_on_a_tie() -> None:
    p = flowsim.parse(MIX.replace("70%", "30%").replace("0.3", "0.7"))
    assert p.entry is not None and p.entry.id == "inbound"
    even = flowsim.parse(MIX.replace("70%", "50%").replace("0.3", "50%"))
    assert even.entry is not None and even.entry.id == "contact"


def test_one_start_without_share_is_the_whole_mix() -> None:
    p = flowsim.parse("stage a\nstage b start\noutcome won\nb -> a\na -> won\n")
    assert [(s.id, share) for s, share in p.entries] == [("b", 1.0)]
    assert flowsim.parse("stage a\noutcome won\na -> won\n").entries[0][1] == 1.0
    assert p.stages[1].start_share is None  # nothing new in the model of an old file


def test_entry_mix_round_trips_through_the_formatter() -> None:
    p = flowsim.parse(MIX)
    text = p.to_flow()
    assert "start 70%" in text and "start 30%" in text
    assert flowsim.parse(text) == p


def test_a_keyword_after_a_probability_is_read_as_the_id_it_must_be() -> None:
    # LALR merges the look-aheads after `30%` in `start 30%` (stage properties may follow)
    # and in `a -> b 30%`: the lexer still reads `goal` in `goal -> lost` as an id
    for share in ("40%", "0.4"):
        text = "stage contact\nstage goal\noutcome won\noutcome lost\ncontact -> goal\n"
        text += f"goal -> won {share}\ngoal -> lost\n"
        codes = {d.code for d in flowsim.check_text(text).errors}
        assert codes == {"E112"}, codes


def test_unicode_identifiers_and_full_width_punctuation() -> None:
    text = (
        "role 销售 headcount 2\n"
        "stage 初步接触 “初步 接触” owner 销售 effort triangular（1h，2h，4h）\n"
        "stage 需求分析 owner 销售\n"
        "outcome 赢单\noutcome 输单\n"
        "初步接触 → 需求分析 60％\n初步接触 -> 输单\n需求分析 -> 赢单 50%\n需求分析 -> 输单\n"
    )
    p = flowsim.parse(text)
    assert [s.id for s in p.stages] == ["初步接触", "需求分析"]
    assert p.stages[0].label == "初步 接触"
    assert p.transitions[0].probability == 0.6
    assert [o.result for o in p.outcomes] == ["won", "lost"]


def test_chinese_calendar() -> None:
    p = flowsim.parse(
        'process "x" calendar 周一-周五 09：00-12:00 13:00-18:00 "Asia/Shanghai"\n'
        "stage a\noutcome won\na -> won"
    )
    assert p.calendar is not None
    assert p.calendar.days == (0, 1, 2, 3, 4)
    assert p.calendar.hours_per_week == 40


def test_weekday_names_are_only_special_inside_calendar() -> None:
    p = flowsim.parse("stage Mon owner Tue\nrole Tue\noutcome won\nMon -> won")
    assert p.stages[0].id == "Mon"


def test_keywords_can_name_roles_and_departments() -> None:
    p = flowsim.parse(
        "department stage\nrole owner in stage\nstage a owner owner\noutcome won\na -> won"
    )
    assert p.roles[0].id == "owner"
    assert p.roles[0].department == "stage"


def test_string_escapes() -> None:
    p = flowsim.parse(r'stage a "say \"hi\" \\ back\nslash"' + "\noutcome won\na -> won")
    assert p.stages[0].label == 'say "hi" \\ back\nslash'


def test_touchpoint_repeatable_texts() -> None:
    p = flowsim.parse(
        'stage a touchpoint "t" { channel web emotion 2 pain "p1" pain "p2" idea "i" '
        'action "a1" action "a2" }\noutcome won\na -> won'
    )
    tp = p.stages[0].touchpoints[0]
    assert tp.pains == ("p1", "p2")
    assert tp.ideas == ("i",)
    assert tp.actions == ("a1", "a2")


def test_headcount_steps_are_sorted() -> None:
    p = flowsim.parse(
        "role se headcount 2 from 2025-06-01 headcount 5 from 2025-03-01 headcount 4\n"
        "stage a owner se\noutcome won\na -> won"
    )
    assert [(s.date, s.headcount) for s in p.roles[0].headcount_steps] == [
        ("2025-03-01", 4),
        ("2025-06-01", 5),
    ]


def test_outcome_result_inference_and_override() -> None:
    p = flowsim.parse(
        'stage a\noutcome signed "签约" \noutcome x "未成交"\noutcome y result won\n'
        "outcome nurture\na -> signed 25%\na -> x 25%\na -> y 25%\na -> nurture"
    )
    assert [o.result for o in p.outcomes] == ["won", "lost", "won", "other"]


def test_spans_point_at_the_source(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    needs = p.node("needs")
    assert needs.span is not None
    assert (needs.span.file, needs.span.line, needs.span.column) == (str(b2b_path), 29, 1)
    owner = needs.where("owner")
    assert owner is not None and (owner.line, owner.column) == (30, 9)


def test_columns_count_characters_not_bytes() -> None:
    result = flowsim.check_text('stage 初步接触 "阶段" owner reps\noutcome won\n初步接触 -> won')
    (diag,) = result.errors
    assert diag.code == "E104"
    assert diag.span is not None and (diag.span.line, diag.span.column) == (1, 23)


def test_include_pulls_in_declarations(tmp_path: Path) -> None:
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "people.flow").write_text(
        'department sales "Sales"\nrole rep in sales headcount 3\n', encoding="utf-8"
    )
    main = tmp_path / "main.flow"
    main.write_text('include "org/people.flow"\nstage a owner rep\noutcome won\na -> won\n')
    p = flowsim.load(main)
    assert [r.id for r in p.roles] == ["rep"]
    assert p.roles[0].span is not None
    assert p.roles[0].span.file.endswith("people.flow")
    assert [i.path for i in p.includes] == ["org/people.flow"]


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.flow").write_text('include "b.flow"\n', encoding="utf-8")
    (tmp_path / "b.flow").write_text('include "a.flow"\n', encoding="utf-8")
    (tmp_path / "main.flow").write_text('include "a.flow"\nstage s\noutcome won\ns -> won\n')
    result = flowsim.check_file(tmp_path / "main.flow")
    assert [d.code for d in result.errors] == ["E302"]
    assert "a.flow -> b.flow -> a.flow" in result.errors[0].message


def test_parse_raises_flow_error_with_all_errors() -> None:
    with pytest.raises(flowsim.FlowError) as info:
        flowsim.parse("stage a owner x\nstage b owner y\noutcome won\na -> won\nb -> won")
    assert [d.code for d in info.value.errors] == ["E104", "E104"]
    assert "<string>:1:15" in info.value.render()


def test_many_errors_are_reported_together() -> None:
    found = codes("stage a effort lognormal(mean 0h, sd 1h) wait foo(1h)\noutcome won\na -> won 2")
    assert found == ["E202", "E201", "E210"]
