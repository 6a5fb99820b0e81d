"""Record files (receiver/observe/rotating.py): one set per writer, rotated by size, a
bounded number kept, 0600, whole lines only, read back whole by read_records."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.observe.rotating import RecordDirError, RotatingFiles, prepare_dir


def line(n: int, width: int = 20) -> bytes:
    return f'{{"n":{n},"pad":"{"x" * width}"}}\n'.encode()


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".jsonl"))


def numbers(directory: Path) -> list[int]:
    import json  # noqa: PLC0415

    return [
        json.loads(text)["n"]
        for name in files(directory)
        for text in (directory / name).read_text().splitlines()
    ]


def test_files_rotate_by_size_on_whole_lines_and_are_private(tmp_path: Path) -> None:
    size = len(line(0))
    sink = RotatingFiles(tmp_path, max_bytes=size * 3 + 5, keep=10, host="h")
    sink.write(b"".join(line(n) for n in range(7)))
    sink.write(line(7))
    sink.close()
    names = files(tmp_path)
    assert names == ["h.w0.000001.jsonl", "h.w0.000002.jsonl", "h.w0.000003.jsonl"]
    assert numbers(tmp_path) == list(range(8))
    for name in names:
        path = tmp_path / name
        assert path.stat().st_size <= size * 3 + 5
        assert path.read_bytes().endswith(b"\n")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_line_longer_than_a_file_gets_a_file_of_its_own(tmp_path: Path) -> None:
    sink = RotatingFiles(tmp_path, max_bytes=30, keep=10, host="h")
    sink.write(line(1, 2) + line(2, 100) + line(3, 2))
    sink.close()
    assert numbers(tmp_path) == [1, 2, 3]
    assert len(files(tmp_path)) == 3


def test_only_keep_closed_files_remain_per_writer(tmp_path: Path) -> None:
    size = len(line(0))
    sink = RotatingFiles(tmp_path, max_bytes=size, keep=2, host="h")
    for n in range(10):
        sink.write(line(n))
    sink.close()
    assert numbers(tmp_path) == [7, 8, 9]  # two closed files and the last one
    assert files(tmp_path)[-1] == "h.w0.000010.jsonl"


def test_each_live_writer_has_its_own_number_and_a_restart_continues_the_sequence(
    tmp_path: Path,
) -> None:
    first = RotatingFiles(tmp_path, max_bytes=1000, keep=1, host="h")
    second = RotatingFiles(tmp_path, max_bytes=1000, keep=1, host="h")
    assert (first.writer, second.writer) == (0, 1)
    first.write(line(1))
    second.write(line(2))
    first.close()
    again = RotatingFiles(tmp_path, max_bytes=1000, keep=1, host="h")
    assert again.writer == 0  # the number freed by the first writer's end
    again.write(line(3))  # never appended to a file that exists: the next one
    again.close()
    second.close()
    assert files(tmp_path) == ["h.w0.000001.jsonl", "h.w0.000002.jsonl", "h.w1.000001.jsonl"]


def test_no_file_is_made_before_the_first_line(tmp_path: Path) -> None:
    RotatingFiles(tmp_path, max_bytes=1000, keep=1, host="h").close()
    assert files(tmp_path) == []


def test_a_failed_write_leaves_whole_lines_and_the_next_batch_follows(tmp_path: Path) -> None:
    sink = RotatingFiles(tmp_path, max_bytes=10_000, keep=1, host="h")
    sink.write(line(1))
    real_write = os.write
    calls = 0

    def half_then_full(fd: int, data: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data)[:7])  # type: ignore[call-overload]
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "write", half_then_full)
        with pytest.raises(OSError, match="No space"):
            sink.write(line(2))
    sink.write(line(3))
    sink.close()
    assert numbers(tmp_path) == [1, 3]


def test_written_lines_are_counted(tmp_path: Path) -> None:
    counted: list[int] = []
    sink = RotatingFiles(tmp_path, max_bytes=10_000, keep=1, host="h", on_written=counted.append)
    sink.write(line(1) + line(2))
    sink.close()
    assert counted == [2]


def test_a_directory_is_created_private_and_a_file_in_its_place_is_refused(
    tmp_path: Path,
) -> None:
    made = tmp_path / "a" / "records"
    prepare_dir(made)
    assert made.is_dir() and stat.S_IMODE(made.stat().st_mode) == 0o700
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RecordDirError, match="cannot create the record directory"):
        prepare_dir(blocker / "records")
    with pytest.raises(RecordDirError, match="not a directory"):
        prepare_dir(blocker)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=6), max_size=8),
    max_bytes=st.integers(1, 200),
)
def test_any_batches_keep_every_line_whole_in_files_within_the_size(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[int]], max_bytes: int
) -> None:
    directory = tmp_path_factory.mktemp("records")
    sink = RotatingFiles(directory, max_bytes=max_bytes, keep=10_000, host="h")
    sent = [line(n, width) for n, batch in enumerate(batches) for width in batch]
    at = 0
    for batch in batches:
        sink.write(b"".join(sent[at : at + len(batch)]))
        at += len(batch)
    sink.close()
    contents = [(directory / name).read_bytes() for name in files(directory)]
    assert b"".join(contents) == b"".join(sent)
    for content in contents:
        assert content.endswith(b"\n")
        assert len(content) <= max_bytes or content.count(b"\n") == 1  # or one long line
