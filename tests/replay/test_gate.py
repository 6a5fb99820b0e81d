"""The ``--fail-on`` gate: its grammar, its errors (column, caret, advice), its verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.replay.gate import (
    FIGURES,
    MEASURES,
    OPERATORS,
    Amount,
    Both,
    Comparison,
    Figure,
    Figures,
    GateError,
    Node,
    parse_gate,
)

# text -> how it prints back (precedence made visible)
PARSED = [
    ("allow_to_deny > 0.5%", "allow_to_deny > 0.5%"),
    ("deny_to_allow>0", "deny_to_allow > 0"),
    ("flips >= 100 or message_changed > 1%", "flips >= 100 or message_changed > 1%"),
    ("flips > 1 or flips > 2 and flips != 3", "flips > 1 or (flips > 2 and flips != 3)"),
    ("(flips > 1 or flips > 2) and flips == 3", "(flips > 1 or flips > 2) and flips == 3"),
    ('rule("spam/spam-phrases").decided > 10%', 'rule("spam/spam-phrases").decided > 10%'),
    ('rule("a/b").shadow <= -5', 'rule("a/b").shadow <= -5'),
    ('rule("q\\"x").errors < 1.25', 'rule("q\\"x").errors < 1.25'),
    ("  ( ( flips > 0 ) )  ", "flips > 0"),
]  # fmt: skip

# text, column, a fragment of the message
ERRORS = [
    ("", 1, "write a condition"),
    ("flip > 0", 1, "did you mean 'flips'"),
    ("flips", 6, "expected a comparison after 'flips'"),
    ("flips >", 8, "ends early: expected a number or a percent"),
    ("flips = 3", 7, "unknown operator '='"),
    ("flips > x", 9, "expected a number or a percent after '>'"),
    ("(flips > 1", 11, "expected ')' to close the '(' at column 1"),
    ("flips > 1 )", 11, "this ')' closes no '('"),
    ("flips > 1 flips > 2", 11, "expected 'and', 'or' or the end"),
    ("flips > 1 and", 14, "ends early"),
    ('rule("a").decide > 1', 11, "did you mean 'decided'"),
    ("rule(a).decided > 1", 6, "rule's id in double quotes"),
    ("rule(spam/x).decided > 1", 10, "rule's id in double quotes"),  # said: unexpected '/'
    ("rule('spam/x').decided > 1", 6, "rule's id in double quotes"),
    ('rule("a.decided > 1', 6, "not closed"),
    ('rule("").decided > 1', 6, "empty"),
    ('rule("a") > 1', 11, "expected '.'"),
    ("flips > 1e999", 9, "too large"),
    ("flips > 1 # note", 11, "unexpected character '#'"),
]


@pytest.mark.parametrize(("text", "shown"), PARSED)
def test_a_gate_parses_and_prints_with_its_grouping(text: str, shown: str) -> None:
    gate = parse_gate(text)
    assert str(gate) == shown
    assert parse_gate(shown).root == gate.root


@pytest.mark.parametrize(("text", "column", "fragment"), ERRORS)
def test_a_bad_gate_is_an_error_at_its_column_with_advice(
    text: str, column: int, fragment: str
) -> None:
    with pytest.raises(GateError) as caught:
        parse_gate(text)
    err = caught.value
    assert (err.column, fragment in err.message) == (column, True), err.message
    rendered = err.render().splitlines()
    assert rendered[0].startswith(f"--fail-on: column {column}: ")
    assert rendered[1] == f"  {text}"  # (printable text: shown as written)
    assert rendered[2] == "  " + " " * (column - 1) + "^"


def figures(events: int = 1000, **flips: int) -> Figures:
    counts = dict.fromkeys(FIGURES, 0) | flips
    counts["flips"] = sum(v for k, v in counts.items() if k != "flips")
    return Figures(events, counts, {"spam/x": {"decided": 120, "shadow": -30}})


def of(figure: str, value: int) -> str:
    """How a held comparison shows its figure's value (of 1,000 events)."""
    return f"{figure} = {value}, {value / 10:.2f}% of 1,000 events"


SPAM_DECIDED = 'rule("spam/x").decided'
SPAM_SHADOW = 'rule("spam/x").shadow'
OTHER = 'rule("other/y").decided'


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("allow_to_deny > 0.5%", [f"allow_to_deny > 0.5% ({of('allow_to_deny', 6)})"]),
        ("allow_to_deny > 0.6%", []),
        ("allow_to_deny >= 0.6%", [f"allow_to_deny >= 0.6% ({of('allow_to_deny', 6)})"]),
        ("deny_to_allow > 0 or flips >= 8", [f"flips >= 8 ({of('flips', 8)})"]),
        ("deny_to_allow > 0 and flips >= 8", []),
        ("flips == 8 and data_changed < 1", [
            f"flips == 8 ({of('flips', 8)})",
            f"data_changed < 1 ({of('data_changed', 0)})",
        ]),
        (f"{SPAM_DECIDED} > 10%", [f"{SPAM_DECIDED} > 10% ({of(SPAM_DECIDED, 120)})"]),
        (f"{SPAM_SHADOW} < -2%", [f"{SPAM_SHADOW} < -2% ({of(SPAM_SHADOW, -30)})"]),
        (f"{OTHER} == 0", [f"{OTHER} == 0 ({of(OTHER, 0)})"]),
    ],
)  # fmt: skip
def test_a_gate_says_which_comparisons_made_it_hold(text: str, held: list[str]) -> None:
    parts = parse_gate(text).check(figures(allow_to_deny=6, message_changed=2))
    assert [str(p) for p in parts] == held


def test_a_percent_of_no_events_is_zero() -> None:
    assert parse_gate("flips > 1%").check(figures(events=0)) == []
    assert [str(p) for p in parse_gate("flips >= 0%").check(figures(events=0))] == [
        "flips >= 0% (flips = 0)"
    ]


def test_the_rules_a_gate_names_are_listed_when_unknown() -> None:
    gate = parse_gate('rule("a/b").decided > 1 or rule("c/d").shadow > 1 or flips > 0')
    assert gate.unknown_rules({"a/b"}) == ["c/d"]


# --- properties -------------------------------------------------------------------------

rule_ids = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
)
amounts = st.builds(
    Amount,
    st.one_of(
        st.integers(-(10**9), 10**9).map(float),
        st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
    ),
    st.booleans(),
)
plain = st.sampled_from(FIGURES).map(Figure)
per_rule = st.builds(Figure, st.sampled_from(MEASURES), rule_ids)
comparisons = st.builds(Comparison, st.one_of(plain, per_rule), st.sampled_from(OPERATORS), amounts)
nodes: st.SearchStrategy[Node] = st.recursive(
    comparisons,
    lambda inner: st.builds(Both, st.sampled_from(["and", "or"]), inner, inner),
    max_leaves=8,
)


@given(nodes)
def test_a_printed_gate_parses_back_to_the_same_tree(node: Node) -> None:
    assert parse_gate(str(node)).root == node


@given(st.text(max_size=60))
def test_any_text_parses_or_is_a_gate_error(text: str) -> None:
    try:
        gate = parse_gate(text)
    except GateError as err:
        assert 1 <= err.column <= len(text) + 1
        assert err.render().count("\n") == 2
    else:
        assert parse_gate(str(gate)).root == gate.root


SOUP = ["flips", "rule", "(", ")", '"x/y"', ".", "decided", ">", "<=", "1", "0.5", "%", "-",
        "and", "or", " "]  # fmt: skip


@given(st.lists(st.sampled_from(SOUP), max_size=14))
def test_token_soup_parses_or_is_a_gate_error(parts: list[str]) -> None:
    text = " ".join(parts)
    try:
        parse_gate(text)
    except GateError as err:
        assert 1 <= err.column <= len(text) + 1
