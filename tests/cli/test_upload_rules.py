"""The upload engine's plain rules, without a server: parts, what is left after an interrupt, waits, records."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from mediactl import config
from mediactl.plan import Part, backoff_delays, missing_parts, parts_of, resume_key, stored_bytes
from mediactl.resume import ResumeRecords

MIB = 1024 * 1024


def test_a_file_is_cut_into_parts_of_the_server_s_size_with_a_shorter_last_one() -> None:
    assert parts_of(14 * MIB, 5 * MIB) == [
        Part(1, 0, 5 * MIB),
        Part(2, 5 * MIB, 5 * MIB),
        Part(3, 10 * MIB, 4 * MIB),
    ]
    assert parts_of(10 * MIB, 5 * MIB) == [Part(1, 0, 5 * MIB), Part(2, 5 * MIB, 5 * MIB)]
    assert parts_of(0, 5 * MIB) == [Part(1, 0, 0)]
    with pytest.raises(ValueError):
        parts_of(10, 0)


def test_after_an_interrupt_only_parts_the_store_lacks_or_holds_cut_short_are_sent_again() -> None:
    planned = parts_of(14 * MIB, 5 * MIB)
    stored = {1: 5 * MIB, 2: 1 * MIB}  # part 2 stored short: not trusted

    assert [part.number for part in missing_parts(planned, stored)] == [2, 3]
    assert stored_bytes(planned, stored) == 5 * MIB
    assert missing_parts(planned, {1: 5 * MIB, 2: 5 * MIB, 3: 4 * MIB}) == []
    assert [part.number for part in missing_parts(planned, {})] == [1, 2, 3]


def test_a_failing_part_waits_longer_each_time_up_to_a_cap() -> None:
    assert backoff_delays(5) == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delays(8, first_seconds=5, cap_seconds=30) == [5, 10, 20, 30, 30, 30, 30]
    assert backoff_delays(1) == []


def test_a_file_is_the_same_upload_only_with_the_same_path_size_and_modification_time() -> None:
    key = resume_key("/rec/a.mp4", 10, 123)
    assert key == resume_key("/rec/a.mp4", 10, 123)
    assert (
        len({key, resume_key("/rec/a.mp4", 11, 123), resume_key("/rec/a.mp4", 10, 124), resume_key("/b", 10, 123)}) == 4
    )


def test_resume_records_survive_between_runs_and_go_when_dropped(tmp_path: Path) -> None:
    path = tmp_path / "state" / "uploads.json"
    ResumeRecords(path).put("k", {"upload_id": "u-1", "video_id": "v-1"})

    again = ResumeRecords(path)
    assert again.get("k") == {"upload_id": "u-1", "video_id": "v-1"}
    assert again.get("other") is None
    again.drop("k")
    assert json.loads(path.read_text()) == {}
    path.write_text("not json")
    assert ResumeRecords(path).get("k") is None


def test_credentials_are_written_owner_only_and_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "config" / "mediactl" / "credentials.json"
    config.save(config.Credentials("https://media.example.edu", "tok-file"), path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert config.load({}, path) == config.Credentials("https://media.example.edu", "tok-file")
    assert config.load({"MEDIA_TOKEN": "tok-env"}, path).token == "tok-env"
    assert config.load({"MEDIA_URL": "other.example.edu/"}, path).url == "https://other.example.edu"
    assert config.remove(path) and not config.remove(path)
    with pytest.raises(config.NotLoggedIn):
        config.load({"MEDIA_TOKEN": "tok-env"}, path)
