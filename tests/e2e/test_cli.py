"""The ``jobs`` command as people and scripts use it, against the real server, worker and relay:
in a pseudo-terminal (progress bars, tables, Ctrl-C) and through pipes (``--json``, exit
codes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from jobs import apikeys
from jobs.cli.exits import ExitCode
from jobs.client import Client
from jobs.status import JobState
from tests.support import runs
from tests.support.ports import free_port
from tests.support.smtp import Recorder
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
JOBS = Path(sys.executable).parent / "jobs"  # the console script
README = ROOT / "README.md"


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "TERM": "xterm", **extra}


def interruptible() -> None:
    """Ctrl-C as in a terminal: a suite started in the background (CI, ``make test &``)
    ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def terminal(*args: str, **extra: str) -> pexpect.spawn:
    """``jobs ARGS`` in a pseudo-terminal of 220 columns."""
    return pexpect.spawn(
        str(JOBS), list(args), cwd=str(ROOT), env=env(COLUMNS="220", LINES="50", **extra),
        encoding="utf-8", dimensions=(50, 220), timeout=180, preexec_fn=interruptible,
    )  # fmt: skip


def ended(child: pexpect.spawn) -> tuple[str, int]:
    """What the command printed since the last expect, and its exit code, once it has ended."""
    child.expect(pexpect.EOF)
    output = child.before
    child.close()
    assert "Traceback" not in output, output
    return output.replace("\r\n", "\n"), child.exitstatus


def piped(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``jobs ARGS`` with its output piped, as a script runs it."""
    done = subprocess.run(
        [str(JOBS), *args], cwd=ROOT, env=env(**extra), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def gated(stack: Stack, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A job (a test flow run) at 40% progress until its gate file exists; the gate is opened
    at the end of the test whatever happened, so the worker's one slot is freed."""
    gate = tmp_path / "gate"
    run_id = runs.submit("test-gated/gated", gate=str(gate))
    yield str(run_id), gate
    gate.touch()


def test_submit_prints_the_id_and_status_shows_the_job(client: Client) -> None:
    key = f"cli-{uuid.uuid4().hex[:8]}"
    args = ["submit", "ping", "-p", "note=from the shell", "--priority", "3", "--tag", "cli"]

    output, code = ended(terminal(*args, "--key", key))
    job_id = output.strip()
    again, _ = ended(terminal(*args, "--key", key))

    assert code == 0 and str(uuid.UUID(job_id)) == job_id
    assert again.strip() == job_id  # the key gives back the same job
    assert client.wait(job_id, timeout=120).state is JobState.COMPLETED
    shown, code = ended(terminal("status", job_id))
    assert code == 0
    for text in (job_id, "ping", "completed", "from the shell", "cli", key, "/runs/"):
        assert text in shown, text
    status = as_json(piped("status", job_id, "--json"))
    assert status["id"] == job_id and status["state"] == "completed"
    assert status["priority"] == 3 and status["idempotency_key"] == key
    assert "cli" in status["tags"] and status["params"]["note"] == "from the shell"
    submitted = as_json(piped("--json", "submit", "ping", "--key", key))
    assert submitted == {"id": job_id, "job_type": "ping"}


def test_submit_reads_the_parameters_from_a_json_file(client: Client, tmp_path: Path) -> None:
    file = tmp_path / "params.json"
    file.write_text('{"note": "from a file", "seconds": 0.5}')

    job_id = piped("submit", "ping", "--json", str(file), "-p", "seconds=0").stdout.strip()

    status = client.wait(job_id, timeout=120)
    assert status.params == {"note": "from a file", "seconds": 0.0, "fail": False}


def test_watch_shows_the_progress_then_the_final_state(gated: tuple[str, Path]) -> None:
    job_id, gate = gated
    child = terminal("watch", job_id)

    child.expect("40%")
    gate.touch()
    child.expect("100%")
    output, code = ended(child)

    assert f"job {job_id} completed after 1 attempt" in output
    assert code == ExitCode.OK


def test_watch_of_a_failed_job_ends_with_its_reason_and_exit_code_1(
    stack: Stack, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    job_id = str(runs.submit("test-gated/gated", gate=str(gate), fail=True))
    child = terminal("watch", job_id)

    child.expect("40%")
    gate.touch()
    output, code = ended(child)

    assert f"job {job_id} failed" in output
    assert "the gate opened onto a failure, on purpose" in output
    assert code == ExitCode.JOB_FAILED


def test_watch_json_prints_each_change_then_the_final_status(gated: tuple[str, Path]) -> None:
    job_id, gate = gated
    child = terminal("watch", job_id, "--json")

    child.expect('"progress": 40.0')
    seen = (child.before + child.after).replace("\r\n", "\n")
    gate.touch()
    output, code = ended(child)

    lines = [json.loads(line) for line in (seen + output).splitlines() if line.strip()]
    assert code == ExitCode.OK
    assert lines[-1]["state"] == "completed" and lines[-1]["progress"] == 100.0
    assert all(line["id"] == job_id for line in lines)


def test_submit_watch_follows_a_failing_job(stack: Stack) -> None:
    output, code = ended(terminal("submit", "ping", "-p", "fail=true", "-p", "note=x", "--watch"))

    assert code == ExitCode.JOB_FAILED
    assert "failed" in output and "ping failed on purpose (note 'x')" in output


def test_watch_gives_up_after_its_timeout(gated: tuple[str, Path]) -> None:
    job_id, _gate = gated

    output, code = ended(terminal("watch", job_id, "--timeout", "1"))

    assert code == ExitCode.TIMED_OUT
    assert f"error: job {job_id} had not finished after 1 s" in output


def test_ctrl_c_stops_a_watch_with_exit_code_130(gated: tuple[str, Path]) -> None:
    job_id, _gate = gated
    child = terminal("watch", job_id)

    child.expect("40%")
    child.sendintr()
    _output, code = ended(child)

    assert code == ExitCode.INTERRUPTED


def jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_bulk_submits_every_line_with_a_progress_bar_and_a_summary(
    client: Client, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    lines = [{"note": f"bulk {n}"} for n in range(20)]
    lines += [
        {"params": {"note": f"keyed {n}"}, "idempotency_key": f"{run}-{n}"} for n in range(10)
    ]
    file = jsonl(tmp_path / "jobs.jsonl", lines)

    output, code = ended(terminal("bulk", "ping", str(file), "--priority", "8", "--tag", run))
    summary = as_json(piped("bulk", "ping", str(file), "--json"))

    assert code == 0 and "Submitted 30 ping jobs" in output and "30/30" in output
    assert summary["submitted"] == 30 and len(summary["ids"]) == 30
    statuses = [client.wait(job_id, timeout=180) for job_id in summary["ids"]]
    assert all(status.state is JobState.COMPLETED for status in statuses)
    assert [status.params["note"] for status in statuses[20:]] == [f"keyed {n}" for n in range(10)]
    again = as_json(piped("bulk", "ping", str(file), "--json"))
    assert again["ids"][20:] == summary["ids"][20:]  # the keys give back the same jobs
    assert len(set(again["ids"][:20]) & set(summary["ids"][:20])) == 0


def test_bulk_with_a_refused_line_submits_nothing(client: Client, tmp_path: Path) -> None:
    lines = [{"note": "fine"}, {"note": "fine"}, {"seconds": "soon"}, {"nope": 1}]
    file = jsonl(tmp_path / "bad.jsonl", lines)
    before = client.stats("ping").total

    output, code = ended(terminal("bulk", "ping", str(file)))

    assert code == ExitCode.BAD_INPUT
    [line] = [line for line in output.splitlines() if line.strip()]
    assert line.startswith("error: 2 line(s) of 4 refused, nothing submitted: line 3: ")
    assert "line 4: invalid ping job parameters: nope: Extra inputs are not permitted" in line
    assert client.stats("ping").total == before


def test_stats_shows_a_table_json_and_refreshes(client: Client) -> None:
    client.wait(client.submit("ping", {"note": "counted"}), timeout=120)
    counts = client.stats("ping")

    one, code = ended(terminal("stats", "ping"))
    every, _ = ended(terminal("stats"))
    assert code == 0
    assert "ping" in one and "completed" in one and f"{counts.completed:,}" in one
    assert "email" in every and "retention" in every and "all" in every
    single = as_json(piped("stats", "ping", "--json"))
    assert single["job_type"] == "ping" and single["completed"] >= counts.completed
    overall = as_json(piped("--json", "stats"))
    assert {row["job_type"] for row in overall["job_types"]} >= {"ping", "email", "video"}
    assert overall["total"]["total"] == sum(row["total"] for row in overall["job_types"])

    child = terminal("stats", "ping", "--watch", "--interval", "0.5")
    child.expect("jobs at")
    child.expect("jobs at")  # redrawn
    child.sendintr()
    _output, code = ended(child)
    assert code == ExitCode.OK


def test_keys_are_created_once_listed_and_revoked(stack: Stack, app_db: str) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"

    output, code = ended(terminal("keys", "create", name, "--scopes", "submit,read"))
    [key] = [word for word in output.split() if word.startswith(apikeys.PREFIX)]
    info = apikeys.authenticate(key, app_db)
    listed, _ = ended(terminal("keys", "list"))
    revoked, revoke_code = ended(terminal("keys", "revoke", name))

    assert code == 0 and "it is shown only now" in output
    assert (
        info is not None
        and info.name == name
        and [s.value for s in info.scopes]
        == [
            "read",
            "submit",
        ]
    )
    assert name in listed and key[: len(apikeys.PREFIX) + 6] in listed and key not in listed
    assert revoke_code == 0 and f"API key {name}" in revoked
    assert apikeys.authenticate(key, app_db) is None
    again = piped("keys", "revoke", f"{name}-never")
    assert again.returncode == ExitCode.NOT_FOUND
    assert again.stderr.strip() == f"error: no API key is named '{name}-never'"


def test_keys_json_outputs_parse(stack: Stack, app_db: str) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"

    made = as_json(piped("keys", "create", name, "--scopes", "admin", "--json"))
    listed = as_json(piped("keys", "list", "--json"))
    revoked = as_json(piped("keys", "revoke", name, "--json"))

    assert made["name"] == name and made["scopes"] == ["admin"]
    assert made["key"].startswith(made["prefix"])
    assert apikeys.authenticate(made["key"], app_db) is None  # revoked since
    assert next(key for key in listed if key["name"] == name)["revoked_at"] is None
    assert revoked["name"] == name and revoked["revoked_at"] is not None
    taken = piped("keys", "create", name, "--scopes", "read")
    assert taken.returncode == ExitCode.BAD_INPUT
    assert "name: expected a name no other key has" in taken.stderr


def test_recurring_jobs_are_listed_paused_resumed_and_triggered(client: Client) -> None:
    output, code = ended(terminal("recurring", "list"))
    paused = as_json(piped("recurring", "pause", "retention", "--json"))
    resumed = as_json(piped("recurring", "resume", "retention", "--json"))
    missing = piped("recurring", "pause", "nope")

    assert code == 0 and "db_cleanup" in output and "cron 0 2 * * *" in output
    assert paused["name"] == "retention" and paused["active"] is False
    assert resumed["active"] is True
    assert missing.returncode == ExitCode.NOT_FOUND and missing.stderr.startswith("error: ")

    triggered = as_json(piped("recurring", "trigger", "cache_cleanup", "--json"))
    followed, code = ended(terminal("watch", triggered["id"]))
    assert triggered["job_type"] == "cache_cleanup"
    assert code == 0 and f"cache_cleanup job {triggered['id']} completed" in followed


def test_errors_have_their_exit_codes_and_one_line(client: Client, tmp_path: Path) -> None:
    done = client.wait(client.submit("ping", {}), timeout=120)
    two = str(jsonl(tmp_path / "two.jsonl", [{"note": "a"}, {"note": "b"}]))
    unknown = str(uuid.uuid4())
    down = {
        "JOBS_SERVER_PORT": str(free_port()),
        "JOBS_DATABASE_URL": client.settings.app_database_url,
    }

    cases = [
        (("status", unknown), ExitCode.NOT_FOUND, f"no job with id {unknown}", {}),
        (("cancel", str(done.id)), ExitCode.REFUSED, "has already finished", {}),
        (("retry", str(done.id)), ExitCode.REFUSED, "only failed, crashed or cancelled", {}),
        (("status", unknown), ExitCode.UNAVAILABLE, "could not read a job at http://", down),
        (("submit", "ping", "--lane", "flow"), ExitCode.UNAVAILABLE, "could not submit", down),
        (
            ("bulk", "ping", two, "--lane", "flow"),
            ExitCode.UNAVAILABLE,
            "0 of 2 jobs submitted (none), then: could not submit ping jobs at http://",
            down,
        ),
        (("submit", "ping", "-p", "seconds=-1"), ExitCode.BAD_INPUT, "seconds: Input should", {}),
    ]
    for args, expected, message, extra in cases:
        result = piped(*args, **extra)
        assert result.returncode == expected, (args, result.stderr)
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ") and message in line, (args, line)
        assert result.stdout == ""


def readme_shell_block() -> str:
    section = README.read_text().split("## Command line", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def test_the_readme_examples_run(client: Client, smtp: Recorder, tmp_path: Path) -> None:
    script = tmp_path / "example.sh"
    script.write_text("set -euo pipefail\n" + readme_shell_block())
    path = f"{JOBS.parent}{os.pathsep}{os.environ['PATH']}"

    done = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env(PATH=path), capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    email_id = done.stdout.splitlines()[0]  # what the first submit printed
    assert client.wait(email_id, timeout=120).state is JobState.COMPLETED
    assert [m["Subject"] for m in smtp.to("ada@example.com")] == ["Welcome"]
    assert "completed after 1 attempt" in done.stdout
    assert "\ncompleted\n" in done.stdout  # the state read from status --json
    assert "Submitted 2 ping jobs" in done.stdout
    assert "billing-service" in done.stdout and "revoked" in done.stdout
    assert "exit code 1" in done.stdout and "Replayed 1 of 1 job(s)." in done.stdout


def test_replay_lists_the_dead_letters_then_replays_them(client: Client) -> None:
    incident = f"incident {uuid.uuid4().hex[:8]}"
    jobs = [client.submit("ping", {"note": incident, "fail": True}) for _ in range(2)]
    jobs.append(client.submit("ping", {"note": incident, "fail": True}, lane="flow"))
    ok = client.submit("ping", {"note": incident})
    assert all(client.wait(job, timeout=180).state is JobState.FAILED for job in jobs)
    assert client.wait(ok, timeout=180).state is JobState.COMPLETED
    ids = {str(job.id) for job in jobs}
    before = client.stats("ping").total

    listed, code = ended(terminal("replay", "--reason", incident, "--since", "1h"))
    dry = as_json(piped("replay", "--type", "ping", "--reason", incident.upper(), "--json"))

    assert code == 0 and all(job_id in listed for job_id in ids) and str(ok.id) not in listed
    assert "3 failed job(s) selected; nothing replayed (a dry run): add --yes" in listed
    assert dry["dry_run"] is True and {status["id"] for status in dry["jobs"]} == ids
    assert all(client.status(job).attempts == 1 for job in jobs)

    replayed, code = ended(terminal("replay", "--reason", incident, "--yes"))

    assert code == 0 and "Replayed 3 of 3 job(s)." in replayed
    statuses = [client.wait(job, timeout=180) for job in jobs]
    assert all(s.state is JobState.FAILED and s.attempts == 2 for s in statuses)  # fail again
    assert client.stats("ping").total == before  # the same jobs ran again: no new job
    none = piped("replay", "--type", "email", "--reason", incident)
    assert none.returncode == 0 and none.stdout.strip() == "No failed job matches."
    bad = piped("replay", "--since", "yesterday")
    assert bad.returncode == ExitCode.BAD_INPUT
    assert bad.stderr.startswith("error: since: expected an ISO 8601 time")


def test_replay_yes_json_reports_what_it_replayed(client: Client) -> None:
    incident = f"incident {uuid.uuid4().hex[:8]}"
    job = client.submit("ping", {"note": incident, "fail": True})
    assert client.wait(job, timeout=180).state is JobState.FAILED

    done = as_json(piped("replay", "--reason", incident, "--yes", "--json"))

    assert done["dry_run"] is False and done["replayed"] == [str(job.id)]
    assert done["skipped"] == {} and [s["id"] for s in done["jobs"]] == [str(job.id)]
    assert client.wait(job, timeout=180).attempts == 2
