"""``receiver serve --record DIR`` settings (receiver/http/settings.py and the serve flags):
the sample rate as a fraction or a percentage, size and retention, the config file's keys,
and a directory that cannot be written stopping the start with exit 2."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from receiver import cli
from receiver.cli.exits import EXIT_USAGE
from receiver.http.server import _announce
from receiver.http.settings import SettingsError, build
from receiver.observe.recorder import DEFAULT_KEEP, DEFAULT_MAX_BYTES, RecordSettings


def test_recording_is_off_by_default() -> None:
    assert build({}).record is None


def test_record_flags_make_the_record_settings_and_create_the_directory(tmp_path: Path) -> None:
    where = tmp_path / "records"
    config = build({"record": where, "record_sample": "10%", "record_max_bytes": 1000})
    assert config.record == RecordSettings(where, 0.1, 1000, DEFAULT_KEEP)
    assert where.is_dir()
    assert pickle.loads(pickle.dumps(config)) == config  # handed to each worker
    default = build({"record": where}).record
    assert default == RecordSettings(where, 1.0, DEFAULT_MAX_BYTES, DEFAULT_KEEP)


def test_the_start_up_log_says_that_it_records_where_and_how_much(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # serve --record logged nothing of it: an operator could not tell that user content
    # was being written, nor where.
    where = tmp_path / "records"
    config = build({"record": where, "record_sample": "10%", "record_keep": 1})
    with caplog.at_level(logging.INFO, logger="receiver.http.server"):
        _announce(config)
    assert (
        f"recording decided events (0.1 of the actors) into {where}, files per worker of up "
        f"to {DEFAULT_MAX_BYTES} bytes, 1 closed file kept per worker; records hold user content"
    ) in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="receiver.http.server"):
        _announce(build({}))
    assert "recording" not in caplog.text


def test_the_config_file_sets_recording_relative_to_itself(tmp_path: Path) -> None:
    config_file = tmp_path / "receiver.yaml"
    config_file.write_text("record: rec\nrecord_sample: 0.5\nrecord_keep: 0\n")
    config = build({"config": config_file})
    assert config.record == RecordSettings(tmp_path / "rec", 0.5, DEFAULT_MAX_BYTES, 0)
    config_file.write_text("record: rec\nrecord_sample: [1]\n")
    with pytest.raises(SettingsError, match="'record_sample' must be a fraction"):
        build({"config": config_file})


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"record_sample": "10%"}, "--record-sample goes with --record DIR"),
        ({"record_keep": 2, "record_max_bytes": 9}, "--record-max-bytes, --record-keep go with"),
        ({"record": "R", "record_sample": "0"}, "above 0 and at most 1"),
        ({"record": "R", "record_sample": "half"}, "fraction such as 0.1 or a percentage"),
        ({"record": "R", "record_max_bytes": 0}, "record-max-bytes must be positive"),
        ({"record": "R", "record_keep": -1}, "record-keep must be 0 or more"),
    ],
)
def test_bad_record_settings_are_errors(
    tmp_path: Path, flags: dict[str, object], message: str
) -> None:
    if "record" in flags:
        flags = {**flags, "record": tmp_path / "r"}
    with pytest.raises(SettingsError, match=message):
        build(flags)


def test_an_unwritable_record_path_stops_the_start_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for target in (blocker, blocker / "records"):
        assert cli.main(["serve", "--record", str(target)]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert f"receiver: --record {blocker}: not a directory" in err or (
            f"cannot create the record directory {target}" in err
        )


def test_help_says_how_to_write_the_rate(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a fraction 0 < RATE <= 1 (0.1) or a percentage (10%)" in text
    assert "--record-keep" in text and "--record-max-bytes" in text
