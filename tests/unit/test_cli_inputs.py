"""What the command line reads (--param pairs, JSON and JSON-lines files, delays and times)
and the JSON it writes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.cli import inputs
from jobs.cli.output import plain
from jobs.errors import InvalidJobParams
from jobs.status import QueueStats


def test_param_values_are_json_when_they_parse_else_text() -> None:
    params = inputs.params_of(
        ["seconds=2", "fail=true", 'to=["a@example.com"]', "note=hello world", 'code="007"', "e="]
    )

    assert params == {
        "seconds": 2,
        "fail": True,
        "to": ["a@example.com"],
        "note": "hello world",
        "code": "007",
        "e": "",
    }


def test_param_pairs_go_over_the_json_file(tmp_path: Path) -> None:
    file = tmp_path / "params.json"
    file.write_text('{"note": "from the file", "seconds": 1}')

    assert inputs.params_of(["note=given"], str(file)) == {"note": "given", "seconds": 1}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["note"], "param: expected key=value, got str 'note'"),
        (["=1"], "param: expected key=value, got str '=1'"),
        (["a=1", "a=2"], "param: expected each key once, got 'a' twice"),
    ],
)
def test_bad_param_pairs_are_refused_by_name(pairs: list[str], message: str) -> None:
    with pytest.raises(InvalidJobParams) as refused:
        inputs.params_of(pairs)

    assert str(refused.value) == message


def test_a_json_file_must_hold_an_object(tmp_path: Path) -> None:
    listed, broken = tmp_path / "list.json", tmp_path / "broken.json"
    listed.write_text("[1, 2]")
    broken.write_text("{not json")

    with pytest.raises(InvalidJobParams, match=r"json: expected a JSON object in .*, got list"):
        inputs.params_of([], str(listed))
    with pytest.raises(InvalidJobParams, match="got invalid JSON"):
        inputs.params_of([], str(broken))
    with pytest.raises(InvalidJobParams, match=r"json: expected a readable UTF-8 file, got str"):
        inputs.params_of([], str(tmp_path / "missing.json"))


def test_json_lines_are_params_or_params_with_a_key(tmp_path: Path) -> None:
    file = tmp_path / "jobs.jsonl"
    file.write_text('{"note": "a"}\n\n{"params": {"note": "b"}, "idempotency_key": "b-1"}\n')

    lines = inputs.read_lines(str(file))

    assert lines == [
        inputs.Line(1, {"note": "a"}),
        inputs.Line(3, {"note": "b"}, "b-1"),
    ]


def test_every_refused_line_is_named(tmp_path: Path) -> None:
    file = tmp_path / "jobs.jsonl"
    file.write_text('{"note": "a"}\n[1]\nnot json\n{"params": 3}\n')

    with pytest.raises(InvalidJobParams) as refused:
        inputs.read_lines(str(file))

    message = str(refused.value)
    assert message.startswith("3 line(s) refused, nothing submitted: ")
    assert "line 2: expected a JSON object, got list of 1 item [1]" in message
    assert "line 3: expected a JSON object, got invalid JSON" in message
    assert "line 4: params: expected a JSON object, got int 3" in message


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "empty.jsonl"
    file.write_text("\n  \n")

    with pytest.raises(InvalidJobParams, match="file: expected one or more JSON lines, got none"):
        inputs.read_lines(str(file))


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("1.5", 1.5), ("10m", 600), ("2h", 7200), ("1d", 86400)]
)
def test_delays_are_seconds_or_numbers_with_a_unit(text: str, seconds: float) -> None:
    assert inputs.seconds_of(text, "delay") == seconds


def test_a_bad_delay_is_refused_by_name() -> None:
    with pytest.raises(InvalidJobParams) as refused:
        inputs.seconds_of("soon", "delay")

    assert str(refused.value) == (
        "delay: expected seconds (90, 1.5) or a number with s, m, h or d (10m, 2h), got str 'soon'"
    )


def test_times_are_iso_8601() -> None:
    assert inputs.time_of("2031-05-17T09:30:00Z", "run_at") == datetime(
        2031, 5, 17, 9, 30, tzinfo=UTC
    )
    with pytest.raises(InvalidJobParams, match="run_at: expected an ISO 8601 time"):
        inputs.time_of("tomorrow", "run_at")


def test_moments_are_times_with_a_timezone_or_durations_ago() -> None:
    now = datetime(2031, 5, 17, 12, 0, tzinfo=UTC)

    assert inputs.moment_of("2h", "since", now) == now - timedelta(hours=2)
    assert inputs.moment_of("2031-05-17T09:30:00+02:00", "since", now) == datetime(
        2031, 5, 17, 7, 30, tzinfo=UTC
    )
    with pytest.raises(InvalidJobParams, match=r"since: expected .*got naive datetime"):
        inputs.moment_of("2031-05-17T09:30:00", "since", now)


def test_chunks_keep_keyed_and_keyless_lines_apart_and_in_order() -> None:
    lines = [
        inputs.Line(1, {}), inputs.Line(2, {}), inputs.Line(3, {}, "k3"),
        inputs.Line(4, {}, "k4"), inputs.Line(5, {}, "k5"), inputs.Line(6, {}),
    ]  # fmt: skip

    chunks = [[line.number for line in chunk] for chunk in inputs.chunks(lines, 2)]

    assert chunks == [[1, 2], [3, 4], [5], [6]]


def test_json_output_takes_models_ids_and_times() -> None:
    job_id = uuid.uuid4()
    moment = datetime(2031, 5, 17, 9, 30, tzinfo=UTC)

    data = plain({"replayed": [job_id], "at": moment, "stats": QueueStats(
        job_type="ping", waiting=1, active=0, completed=2, failed=0, delayed=0, cancelled=0,
        paused=0,
    )})  # fmt: skip

    assert json.loads(json.dumps(data)) == {
        "replayed": [str(job_id)],
        "at": "2031-05-17T09:30:00+00:00",
        "stats": {
            "job_type": "ping", "waiting": 1, "active": 0, "completed": 2, "failed": 0,
            "delayed": 0, "cancelled": 0, "paused": 0, "total": 3,
        },
    }  # fmt: skip
