"""Policy unit tests: ``*.test.yaml`` files, ``receiver test``, coverage, the pytest plugin.

A test file lists cases (an event, the actor, the data) and what each must produce
(allow or deny, the message, the resulting data, the deciding rule, shadow results).
The runner decides every case with the production pipeline (``load_policies`` and
:func:`~receiver.runtime.decide.decide`, as the service and ``receiver eval`` do) and
reports differences, with the explanation.

    runner = Runner()
    result = runner.run([Path("policies")])
    print(render_text_report(result, coverage=True))
"""

from __future__ import annotations

from receiver.testing.model import Case, Expectation, RuleRef, ShadowExpect, Suite
from receiver.testing.reader import is_test_file, read_file, read_text
from receiver.testing.report import (
    failure_text,
    junit_xml,
    render_json_report,
    render_text_report,
)
from receiver.testing.runner import CaseResult, LoadedFile, Runner, RunResult, discover

__all__ = [
    "Case",
    "CaseResult",
    "Expectation",
    "LoadedFile",
    "RuleRef",
    "RunResult",
    "Runner",
    "ShadowExpect",
    "Suite",
    "discover",
    "failure_text",
    "is_test_file",
    "junit_xml",
    "read_file",
    "read_text",
    "render_json_report",
    "render_text_report",
]
