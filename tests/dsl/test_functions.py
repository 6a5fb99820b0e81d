"""Tests for receiver.dsl.functions: every built-in, its null handling and its type errors.

Pure functions are called through their ``impl``; the ones the compiler builds
itself (``any``/``all``/``count``, ``regex_replace``, ``now``, ``age``, constant
``contains_any``) are evaluated through a policy whose modify rule stores the
expression's value in ``data.out``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from receiver.dsl.context import Context
from receiver.dsl.functions import FORMS, FUNCTIONS, Function, age
from receiver.dsl.values import Duration, Timestamp
from receiver.errors import EvaluationError
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import load_policies

EVENT = "message.shouldCreate"
NOW = Timestamp(1_769_860_800.0)  # 2026-01-31T12:00:00Z


def call(name: str, *args: Any) -> Any:
    impl = FUNCTIONS[name].impl
    assert impl is not None, f"{name}() is compiled specially"
    return impl(*args)


def run(tmp_path: Path, expr: str, data: dict[str, Any] | None = None) -> Decision:
    """Evaluate ``set: {data.out: EXPR}`` against ``data`` at the pinned time."""
    text = (
        "policy: fn\nrules:\n  - id: r\n    events: message.shouldCreate\n    action: modify\n"
        f"    set:\n      data.out: {json.dumps(expr)}\n"
    )
    (tmp_path / "fn.yaml").write_text(text, encoding="utf-8")
    tree = load_policies([tmp_path]).tree(EVENT)
    return evaluate(tree, parse_event({"eventName": EVENT, "data": data or {}}), NOW)


def value_of(tmp_path: Path, expr: str, data: dict[str, Any] | None = None) -> Any:
    decision = run(tmp_path, expr, data)
    assert decision.errors == [], decision.errors
    assert decision.data is not None
    return decision.data["out"]


def error_of(tmp_path: Path, expr: str, data: dict[str, Any]) -> str:
    decision = run(tmp_path, expr, data)
    (failure,) = decision.errors
    return failure.message


def test_every_documented_function_exists_with_a_summary() -> None:
    assert all(f.summary for f in FUNCTIONS.values())
    assert set(FUNCTIONS) >= {
        "len", "lower", "upper", "trim", "words", "urls", "domain", "any", "all", "count",
        "contains_any", "profane", "censor", "caps_ratio", "replace", "regex_replace", "now",
        "age", "merge", "coalesce",
    }  # fmt: skip


# -- len -----------------------------------------------------------------------------------


def test_len_counts_characters_elements_and_keys() -> None:
    assert call("len", "héllo") == 5
    assert call("len", [1, 2]) == 2
    assert call("len", {"a": 1}) == 1


def test_len_of_null_is_null() -> None:
    assert call("len", None) is None


def test_len_of_number_is_an_error() -> None:
    with pytest.raises(EvaluationError, match=r"^len\(\) needs a string, list or map, got number$"):
        call("len", 5)


# -- lower / upper / trim ------------------------------------------------------------------


def test_lower_upper_trim() -> None:
    assert call("lower", "HeLLo") == "hello"
    assert call("upper", "HeLLo") == "HELLO"
    assert call("trim", "  a b \n") == "a b"


@pytest.mark.parametrize("name", ["lower", "upper", "trim"])
def test_case_functions_pass_null_through(name: str) -> None:
    assert call(name, None) is None


@pytest.mark.parametrize("name", ["lower", "upper", "trim", "words", "urls", "domain"])
def test_text_functions_reject_non_strings(name: str) -> None:
    with pytest.raises(EvaluationError, match=rf"^{name}\(\) needs a string, got list$"):
        call(name, [1])


# -- words / urls / domain -----------------------------------------------------------------


def test_words_splits_text_into_words() -> None:
    assert call("words", "Hello, big world!") == ["Hello", "big", "world"]


def test_words_and_urls_of_null_are_empty_lists() -> None:
    assert call("words", None) == []
    assert call("urls", None) == []


def test_urls_finds_links_with_and_without_scheme() -> None:
    found = call("urls", "see bit.ly/x and https://www.Example.com:8080/a")
    assert found == ["bit.ly/x", "https://www.Example.com:8080/a"]


def test_domain_is_lower_case_host_without_www_and_port() -> None:
    assert call("domain", "https://www.Example.com:8080/a") == "example.com"
    assert call("domain", None) is None


# -- contains_any ----------------------------------------------------------------------------


def test_contains_any_matches_whole_words_in_any_case() -> None:
    assert call("contains_any", "I want FREE Money now", ["free money"]) is True
    assert call("contains_any", "the cat sat", ["cat"]) is True


def test_contains_any_does_not_match_inside_words() -> None:
    assert call("contains_any", "concatenate", ["cat"]) is False
    assert call("contains_any", "freemoney", ["free money"]) is False


def test_contains_any_with_null_is_false() -> None:
    assert call("contains_any", None, ["a"]) is False
    assert call("contains_any", "a", None) is False


def test_contains_any_needs_a_string_and_a_list() -> None:
    with pytest.raises(EvaluationError, match=r"contains_any\(\) needs a string, got number"):
        call("contains_any", 5, ["a"])
    with pytest.raises(EvaluationError, match=r"contains_any\(\) needs a list, got string"):
        call("contains_any", "a", "a")


def test_contains_any_with_constant_list_matches_whole_words(tmp_path: Path) -> None:
    expr = 'contains_any(data.s, ["cat", "free money"])'
    assert value_of(tmp_path, expr, {"s": "Free  money!"}) is True
    assert value_of(tmp_path, expr, {"s": "concatenate"}) is False
    assert value_of(tmp_path, expr, {}) is False


def test_contains_any_with_constant_list_rejects_non_strings(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'contains_any(data.s, ["cat"])', {"s": 1})
    assert message == "contains_any() needs a string"


# -- profane / censor / caps_ratio -----------------------------------------------------------


def test_profane_finds_listed_words() -> None:
    assert call("profane", "what the shit") is True
    assert call("profane", "hello there") is False


def test_profane_of_null_is_false() -> None:
    assert call("profane", None) is False


def test_censor_replaces_listed_words() -> None:
    assert call("censor", "what the shit") == "what the ****"
    assert call("censor", None) is None


@pytest.mark.parametrize("name", ["profane", "censor", "caps_ratio"])
def test_profanity_and_caps_functions_reject_non_strings(name: str) -> None:
    with pytest.raises(EvaluationError, match=rf"^{name}\(\) needs a string, got number$"):
        call(name, 1)


def test_caps_ratio_is_share_of_upper_case_letters() -> None:
    assert call("caps_ratio", "ABcd") == 0.5
    assert call("caps_ratio", "123 !") == 0
    assert call("caps_ratio", None) is None


# -- replace / regex_replace -----------------------------------------------------------------


def test_replace_replaces_every_occurrence() -> None:
    assert call("replace", "a-b-c", "-", "+") == "a+b+c"
    assert call("replace", None, "-", "+") is None


def test_replace_needs_strings() -> None:
    with pytest.raises(EvaluationError, match=r"^replace\(\) needs a string, got number$"):
        call("replace", "a", 1, "b")


def test_regex_replace_replaces_every_match(tmp_path: Path) -> None:
    value = value_of(
        tmp_path, 'regex_replace(data.s, "(?i)w[aeiou]rld", "there")', {"s": "a WORLD"}
    )
    assert value == "a there"


def test_regex_replace_replacement_is_literal_text(tmp_path: Path) -> None:
    expr = r'regex_replace(data.s, "(o)", "\\1$1")'
    assert value_of(tmp_path, expr, {"s": "foo"}) == "f\\1$1\\1$1"


def test_regex_replace_of_null_is_null(tmp_path: Path) -> None:
    assert value_of(tmp_path, 'regex_replace(data.s, "a", "b")', {}) is None


def test_regex_replace_needs_strings(tmp_path: Path) -> None:
    assert error_of(tmp_path, 'regex_replace(data.s, "a", "b")', {"s": 3}) == (
        "regex_replace() needs strings"
    )


# -- any / all / count -----------------------------------------------------------------------


def test_any_all_count_evaluate_condition_per_element(tmp_path: Path) -> None:
    data = {"l": [1, 5, 9]}
    assert value_of(tmp_path, "any(data.l, it > 8)", data) is True
    assert value_of(tmp_path, "all(data.l, it > 0)", data) is True
    assert value_of(tmp_path, "all(data.l, it > 1)", data) is False
    assert value_of(tmp_path, "count(data.l, it >= 5)", data) == 2


def test_any_all_count_of_null_treat_it_as_empty_list(tmp_path: Path) -> None:
    assert value_of(tmp_path, "any(data.l, it > 8)", {}) is False
    assert value_of(tmp_path, "all(data.l, it > 8)", {}) is True
    assert value_of(tmp_path, "count(data.l, it > 8)", {}) == 0


def test_any_of_non_list_is_an_error(tmp_path: Path) -> None:
    assert error_of(tmp_path, "any(data.l, it > 8)", {"l": 5}) == "any() needs a list, got number"


def test_count_condition_must_be_true_or_false(tmp_path: Path) -> None:
    message = error_of(tmp_path, "count(data.l, it)", {"l": [1]})
    assert message == "the condition of count() gave a number (1), not true/false"


def test_it_is_restored_after_nested_lambdas(tmp_path: Path) -> None:
    expr = "count(data.rows, any(it, it > 1) and len(it) == 2)"
    assert value_of(tmp_path, expr, {"rows": [[1, 2], [0, 0], [5]]}) == 1


# -- now / age -------------------------------------------------------------------------------


def test_now_is_the_pinned_request_time(tmp_path: Path) -> None:
    assert value_of(tmp_path, "now()") == "2026-01-31T12:00:00Z"
    assert value_of(tmp_path, "now() - 7d") == "2026-01-24T12:00:00Z"


@pytest.mark.parametrize(
    "created",
    ["2026-01-30T12:00:00Z", "2026-01-30T13:00:00+01:00", 1_769_774_400, 1_769_774_400_000],
)
def test_age_accepts_iso_strings_and_epoch_seconds_or_milliseconds(
    tmp_path: Path, created: object
) -> None:
    assert value_of(tmp_path, "age(data.t)", {"t": created}) == 86_400  # seconds as JSON
    assert value_of(tmp_path, "age(data.t) < 7d and age(data.t) >= 1d", {"t": created}) is True


def test_age_of_null_is_null_and_comparisons_with_it_are_false(tmp_path: Path) -> None:
    assert value_of(tmp_path, "age(data.t)", {}) is None
    assert value_of(tmp_path, "age(data.t) < 7d", {}) is False


def test_age_of_unparseable_time_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "age(data.t)", {"t": "last week"})
    assert message == "expected an ISO-8601 time or epoch seconds/milliseconds, got 'last week'"


def test_age_helper_measures_from_now() -> None:
    assert age(NOW, "2026-01-31T11:00:00Z") == Duration(3600)
    assert age(NOW, None) is None


def test_time_strings_compare_with_time_arithmetic(tmp_path: Path) -> None:
    expr = "data.t > now() - 7d"
    assert value_of(tmp_path, expr, {"t": "2026-01-30T00:00:00Z"}) is True
    assert value_of(tmp_path, expr, {"t": "2026-01-01T00:00:00Z"}) is False


# -- merge / coalesce ------------------------------------------------------------------------


def test_merge_combines_maps_second_wins() -> None:
    assert call("merge", {"a": 1, "b": 1}, {"b": 2}) == {"a": 1, "b": 2}


def test_merge_skips_null_sides() -> None:
    assert call("merge", None, {"b": 2}) == {"b": 2}
    assert call("merge", None, None) == {}


def test_merge_does_not_change_its_arguments() -> None:
    left = {"a": 1}
    call("merge", left, {"a": 2})
    assert left == {"a": 1}


def test_merge_needs_maps() -> None:
    with pytest.raises(EvaluationError, match=r"^merge\(\) needs maps, got list$"):
        call("merge", [1], {})


def test_coalesce_returns_first_non_null() -> None:
    assert call("coalesce", None, False, 3) is False
    assert call("coalesce", None, None) is None


def test_coalesce_through_a_policy(tmp_path: Path) -> None:
    assert value_of(tmp_path, 'coalesce(data.nick, data.name, "anon")', {"name": "Ann"}) == "Ann"


# -- errors carry positions ------------------------------------------------------------------


def test_function_error_location_points_at_the_call(tmp_path: Path) -> None:
    decision = run(tmp_path, "upper(data.n)", {"n": 1})
    (failure,) = decision.errors
    line = next(
        number
        for number, text in enumerate((tmp_path / "fn.yaml").read_text().splitlines(), 1)
        if "upper(" in text
    )
    column = (tmp_path / "fn.yaml").read_text().splitlines()[line - 1].index("upper(") + 1
    assert failure.location == f"{tmp_path / 'fn.yaml'}:{line}:{column}"
    assert failure.message == "upper() needs a string, got number"


# -- what the table says about each built-in (the facts other stages derive from it) ------


def test_calls_never_memoised_are_the_ones_the_table_marks() -> None:
    assert {n for n, f in FUNCTIONS.items() if not f.memo} == {"now", "user_lookup_failed", "len"}


def test_what_each_call_reads_besides_its_arguments() -> None:
    reading = {n: set(f.reads) for n, f in FUNCTIONS.items() if f.reads}
    assert reading == {
        "now": {"now"},
        "age": {"now"},
        "user_lookup_failed": {"user"},
        "counters_unavailable": {"counters"},
    }


def test_every_function_has_a_known_form_and_its_parts() -> None:
    for func in FUNCTIONS.values():
        assert func.form in FORMS
        if func.form == "context":
            assert func.context_field is not None and not func.params
        if func.form == "each":
            assert func.lambda_arg is not None and func.combine is not None
        if func.form in ("apply", "clock", "profanity", "phrases", "length"):
            assert func.impl is not None, func.name


def test_context_fields_exist_on_the_request_context() -> None:
    ctx = Context(EVENT, {}, {}, NOW, 0)
    for func in FUNCTIONS.values():
        if func.context_field is not None:
            assert hasattr(ctx, func.context_field), func.name


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"form": "each"}, "form 'each'"),
        ({"lambda_arg": 0}, "form 'each'"),
        ({"form": "context"}, "form 'context'"),
        ({"context_field": "now"}, "form 'context'"),
        ({"form": "pattern"}, "form 'pattern'"),
        ({"literal_args": (0,)}, "form 'pattern'"),
        ({"form": "clock", "impl": None}, "calls an implementation"),
    ],
)
def test_an_inconsistent_entry_is_refused(fields: dict[str, Any], problem: str) -> None:
    entry: dict[str, Any] = {
        "name": "f",
        "params": (None,),
        "returns": "any",
        "impl": lambda value: value,
        "summary": "s",
        **fields,
    }
    with pytest.raises(ValueError, match=problem):
        Function(**entry)


def test_any_all_and_count_combine_as_the_table_says(tmp_path: Path) -> None:
    data = {"xs": [1, 2, 3]}
    assert [FUNCTIONS[n].combine for n in ("any", "all", "count")] == ["any", "all", "count"]
    assert value_of(tmp_path, "any(data.xs, it > 2)", data) is True
    assert value_of(tmp_path, "all(data.xs, it > 2)", data) is False
    assert value_of(tmp_path, "count(data.xs, it > 1)", data) == 2
