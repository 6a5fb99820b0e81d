"""Tests for receiver.pytest_plugin: ``pytest policies/`` runs the cases of ``*.test.yaml`` files.

Each test file is a collector and each case an item; a failing case shows what differs
and the explanation, a broken test file is a collection error with positions. The plugin
is installed through the ``pytest11`` entry point and can be disabled with
``-p no:receiver``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

# Imported here, before any in-process pytester run: pytester removes the modules a run
# imported when it ends, and the next run's fresh ``yaml`` would build nodes that the C
# loader (which cannot be imported twice) makes with the first import's classes.
import receiver.testing.report
import receiver.testing.runner  # noqa: F401

pytest_plugins = ["pytester"]

POLICY = """\
policy: demo
lists:
  blocked: [spam, scam, free money]
rules:
  - id: no-blocked-words
    events: [message.shouldCreate, post.shouldCreate]
    when: contains_any(text, blocked)
    action: deny
    message: Blocked words are not allowed.
  - id: count-tags
    events: post.shouldCreate
    when: len(data.tags) > 3
    action: deny
    message: "Too many tags ({len(data.tags)})."
"""

PASSING = """\
now: 2026-11-22T12:00:00Z
defaults:
  event: message.shouldCreate
cases:
  - name: plain message
    data: {text: hello}
    expect: allow
  - name: blocked word
    data: {text: "FREE   money!"}
    expect: {action: deny, rule: no-blocked-words}
  - name: many tags
    event: post.shouldCreate
    data: {tags: [a, b, c, d]}
    expect: {action: deny, message: Too many tags (4).}
"""

FAILING = """\
now: 2026-11-22T12:00:00Z
cases:
  - name: expects the wrong verdict
    event: message.shouldCreate
    data: {text: "a scam"}
    expect:
      action: allow
  - name: expects the wrong message
    event: post.shouldCreate
    data: {tags: [a, b, c, d, e]}
    expect:
      message: Too many tags (4).
"""


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    found = [e for e in entry_points(group="pytest11") if e.name == "receiver"]
    assert [e.value for e in found] == ["receiver.pytest_plugin"]


def test_plugin_collects_each_case_as_an_item_named_after_it(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=POLICY)
    pytester.makefile(".test.yaml", demo=PASSING)
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "demo.test.yaml::plain message PASSED*",
            "demo.test.yaml::blocked word PASSED*",
            "demo.test.yaml::many tags PASSED*",
        ]
    )


def test_plugin_shows_what_differs_and_the_explanation_of_a_failing_case(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", demo=POLICY)
    pytester.makefile(".test.yaml", failing=FAILING)
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ failing.test.yaml: expects the wrong verdict _*",
            "failing.test.yaml:3:11: expects the wrong verdict",
            "  expected vs actual (- expected, + actual):",
            "    action: expected allow, got deny",
            "      - allow",
            "      + deny",
            "*explain:",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_plugin_cases_are_selected_with_k(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=POLICY)
    pytester.makefile(".test.yaml", demo=PASSING, failing=FAILING)
    result = pytester.runpytest("-k", "blocked", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=4)


def test_plugin_collects_test_yml_files_too(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=POLICY)
    pytester.makefile(".test.yml", demo=PASSING)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_plugin_ignores_policy_files_that_are_not_test_files(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=POLICY, other="cases: []\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_plugin_is_disabled_with_p_no_receiver(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=POLICY)
    pytester.makefile(".test.yaml", demo=PASSING)
    result = pytester.runpytest("-p", "no:receiver", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_plugin_reports_broken_test_files_as_collection_errors(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=POLICY)
    pytester.makefile(".test.yaml", broken="cases:\n  - name: x\n    expext: deny\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting broken.test.yaml*",
            "broken.test.yaml: the test file has errors",
            "broken.test.yaml:3:5: error: unknown field 'expext' in a case; did you mean*",
        ]
    )


def test_plugin_reports_broken_policies_as_a_collection_error_of_their_test_file(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", demo=POLICY.replace("len(data.tags) > 3", "len(data.tags) >"))
    pytester.makefile(".test.yaml", demo=PASSING)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting demo.test.yaml*",
            "demo.test.yaml: the test file has errors",
            "demo.yaml:*",
        ]
    )


def test_plugin_names_test_files_relative_to_where_pytest_started(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.mkdir("policies")
    (folder / "broken.test.yaml").write_text("cases:\n  - name: x\n    expext: deny\n")
    result = pytester.runpytest("policies", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["policies/broken.test.yaml: the test file has errors"])
    result.stdout.no_fnmatch_line(f"{pytester.path}*: the test file has errors")
