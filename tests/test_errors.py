"""receiver/errors.py: one root for the receiver's own exceptions, with useful messages."""

from __future__ import annotations

import pytest

from receiver.errors import EvaluationError, PayloadError, PolicyLoadError, ReceiverError
from receiver.text.diagnostics import Diagnostics
from receiver.text.source import SourceFile

SOURCE = SourceFile("p.yaml", "policy: p\nrules: 5\n")


@pytest.mark.parametrize("kind", [PolicyLoadError, PayloadError, EvaluationError])
def test_every_error_is_a_receiver_error(kind: type[Exception]) -> None:
    assert issubclass(kind, ReceiverError)


def test_a_policy_load_error_says_the_first_error_and_how_many_more() -> None:
    diags = Diagnostics()
    diags.warning("unused", "not an error", SOURCE.span(0, 6))
    diags.error("type", "'rules' must be a list", SOURCE.span(17, 18))
    diags.error("missing-field", "no rules", None, path="q.yaml")
    err = PolicyLoadError(diags.items)
    assert str(err) == "p.yaml:2:8: error: 'rules' must be a list [type] (and 1 more)"
    assert err.diagnostics == diags.items  # every diagnostic travels, warnings too


def test_a_policy_load_error_with_one_error_has_no_count() -> None:
    diags = Diagnostics()
    diags.error("io", "cannot read", None, path="q.yaml")
    assert str(PolicyLoadError(diags.items)) == "q.yaml: error: cannot read [io]"


def test_a_policy_load_error_without_errors_still_has_a_message() -> None:
    assert str(PolicyLoadError([])) == "policy errors"


def test_an_evaluation_error_shows_its_position_first() -> None:
    span = SOURCE.span(10, 15)
    assert str(EvaluationError("len() needs text", span)) == "p.yaml:2:1: len() needs text"
    assert str(EvaluationError("len() needs text")) == "len() needs text"


def test_at_locates_an_error_only_once() -> None:
    inner, outer = SOURCE.span(10, 11), SOURCE.span(0, 1)
    err = EvaluationError("boom")
    assert err.at(inner) is err
    assert err.at(outer).span == inner  # the innermost position wins
    assert err.message == "boom"
