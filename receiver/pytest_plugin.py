"""A pytest plugin: ``pytest policies/`` runs the cases of ``*.test.yaml`` files.

The edge (pytest), over the policy test runner. Consumes the ``*.test.yaml`` files pytest
collects; produces a pytest item per case, whose outcome is the case's verdict.

Registered through the ``pytest11`` entry point (``receiver``), so installing the
package is enough. Each test file becomes a collector and each case an item, run by
the same :class:`~receiver.testing.runner.Runner` as ``receiver test`` (production
compile and evaluate path). A failing case shows what differs and the explanation;
a broken test file (or broken policies) is a collection error with every problem as
``FILE:LINE:COL``. Disable the plugin with ``-p no:receiver``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from receiver.testing.model import Case
    from receiver.testing.runner import CaseResult, LoadedFile, Runner

_RUNNER = pytest.StashKey["Runner"]()


def _is_test_file(path: Path) -> bool:
    return path.name.endswith((".test.yaml", ".test.yml"))


def _runner(config: pytest.Config) -> Runner:
    runner = config.stash.get(_RUNNER, None)
    if runner is None:
        from receiver.testing.runner import Runner  # noqa: PLC0415  (imported only when used)

        runner = config.stash[_RUNNER] = Runner(coverage=False)
    return runner


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_test_file(file_path):
        collector: PolicyTestFile = PolicyTestFile.from_parent(parent, path=file_path)
        return collector
    return None


class PolicyCaseFailed(Exception):
    """Raised by a case whose decision does not meet its expectations."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.case.name)
        self.result = result


class PolicyTestFile(pytest.File):
    """One ``*.test.yaml`` file."""

    def collect(self) -> Iterator[PolicyTestCase]:
        from receiver.text.diagnostics import render_text  # noqa: PLC0415

        shown = self._shown_path()
        loaded = _runner(self.config).load(shown)
        if loaded.broken or loaded.suite is None:
            text = render_text(loaded.diagnostics) or "the test file can't be read"
            raise self.CollectError(f"{shown}: the test file has errors\n{text}")
        for case in loaded.suite.cases:
            yield PolicyTestCase.from_parent(self, name=case.name, loaded=loaded, case=case)

    def _shown_path(self) -> Path:
        """The file relative to where pytest was started, so messages say policies/x.test.yaml."""
        start = self.config.invocation_params.dir
        if Path.cwd() == start and self.path.is_relative_to(start):
            return self.path.relative_to(start)
        return self.path


class PolicyTestCase(pytest.Item):
    """One case of a test file."""

    def __init__(self, *, loaded: LoadedFile, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded
        self.case = case

    def runtest(self) -> None:
        result = _runner(self.config).run_case(self.loaded, self.case)
        if not result.passed:
            raise PolicyCaseFailed(result)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, PolicyCaseFailed):
            from receiver.testing.report import encodable, failure_text  # noqa: PLC0415

            return encodable(failure_text(excinfo.value.result))
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.span.line - 1, f"{self.path.name}: {self.case.name}"
