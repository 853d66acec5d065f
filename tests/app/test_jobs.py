"""Scheduled jobs: validation, due-ness across daylight saving, no double runs, pruning, the run log."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest
from pydantic import ValidationError

from sre_lib.app import jobs as jobs_module
from sre_lib.app.jobs import DEFAULT_JOBS_DIR, Job, is_due, load_jobs, load_jobs_leniently, prune_runs, run_due, run_job
from sre_lib.app.report_runner import REPORTS, RUN_MARKER, _new_run_directory, run_file_names
from sre_lib.config import DEFAULT_CONFIG_PATH, PROJECT_ROOT
from sre_lib.errors import ConfigError
from sre_lib.warehouse.store import Warehouse

SYDNEY = ZoneInfo("Australia/Sydney")
SRE = str(Path(sys.executable).with_name("sre"))


def test_shipped_jobs_match_the_seed_cadence() -> None:
    jobs = load_jobs(DEFAULT_JOBS_DIR)
    reports = {job.report: job.schedule for job in jobs.values() if job.report}
    assert set(reports) == set(REPORTS)
    assert reports == {"capacity": "0 7 * * *", "slow-queries": "0 8 * * 1", "dr": "30 7 * * *"}  # DR daily
    assert jobs["collect-postgres"].collect == "postgres"
    assert (jobs["collect-backups"].collect, jobs["collect-backups"].schedule) == ("backups", "10 * * * *")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('report = "capacity"\nschedule = "every day"', "expected a cron schedule"),
        ('report = "weekly"\nschedule = "0 7 * * *"', "report: expected"),
        ('schedule = "0 7 * * *"', "exactly one of `report` or `collect`"),
        ('report = "dr"\nschedule = "0 7 * * *"\nkeep = 0', "keep: expected greater than or equal to 1"),
        ('report = "dr"\nschedule = "0 7 * * *"\ncolour = 1', "colour: unknown key"),
        ('report = "dr"\nschedule = "0 7 31 2 *"', "expected a cron schedule that comes due"),  # 31 February
        ('collect = "redis"\nschedule = "*/15 * * * *"\nsince = "2 hours"', "since: expected a positive duration"),
        ('collect = "prometheus"\nschedule = "0 * * * *"\n[parameters]\nstep = "often"', "parameters.step: expected"),
        (
            'report = "capacity"\nschedule = "0 7 * * *"\n[parameters]\nwindow_day = 7',
            "parameters: parameter 'window_day': not a parameter of capacity.ipynb",
        ),
        (
            'report = "dr"\nschedule = "0 7 * * *"\n[parameters]\ndb_pass = "x"',
            "parameter 'db_pass' looks like a secret",
        ),
    ],
)
def test_a_bad_job_file_is_named_with_its_key(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "broken.toml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_jobs(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / 'broken.toml'}: ")
    assert expected in str(raised.value)


def test_a_job_file_that_is_not_utf8_is_named_and_the_others_still_load(tmp_path: Path) -> None:
    (tmp_path / "latin1.toml").write_bytes('description = "caf\xe9"\n'.encode("latin-1"))
    (tmp_path / "good.toml").write_text('report = "dr"\nschedule = "0 9 1 * *"\n')
    jobs, problems = load_jobs_leniently(tmp_path)
    assert list(jobs) == ["good"]
    assert problems == [f"{tmp_path / 'latin1.toml'}: not UTF-8 text: expected a TOML job file"]


def test_a_job_that_crashes_fails_alone_and_its_message_holds_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not every failure is one of ours (a library's ValueError, a bug): the jobs after it must still run."""
    secret = "Fake-Crash-Secret-77"
    monkeypatch.setenv("PGPASSWORD", secret)

    def crash(*_args: object) -> str:
        raise ValueError(f"unexpected reply while using {secret}")

    monkeypatch.setattr(jobs_module, "_perform", crash)
    jobs = {
        name: Job(name=name, collect="redis", schedule="*/15 * * * *", out=str(tmp_path / "out"))
        for name in ("first", "second")
    }
    outcomes = run_due(jobs, DEFAULT_CONFIG_PATH, tmp_path / "w.duckdb")
    assert [(o.job, o.status) for o in outcomes] == [("first", "failed"), ("second", "failed")]
    assert outcomes[0].detail == "ValueError: unexpected reply while using ***"


def test_due_follows_local_time_across_daylight_saving() -> None:
    job = Job(name="daily", report="capacity", schedule="0 7 * * *")
    # Sydney: AEST (+10) until 2026-10-04 02:00, then AEDT (+11). 07:00 local is 21:00 / 20:00 UTC the day before.
    assert job.previous_slot(datetime(2026, 10, 2, 22, tzinfo=UTC), SYDNEY) == datetime(2026, 10, 3, 7, tzinfo=SYDNEY)
    assert job.previous_slot(datetime(2026, 10, 2, 22, tzinfo=UTC), SYDNEY).astimezone(UTC).hour == 21
    after_change = job.previous_slot(datetime(2026, 10, 5, 22, tzinfo=UTC), SYDNEY)
    assert after_change.astimezone(UTC) == datetime(2026, 10, 5, 20, tzinfo=UTC)
    last = datetime(2026, 10, 5, 20, 1, tzinfo=UTC)
    assert not is_due(job, last, datetime(2026, 10, 6, 19, 59, tzinfo=UTC), SYDNEY)
    assert is_due(job, last, datetime(2026, 10, 6, 20, 0, tzinfo=UTC), SYDNEY)
    assert is_due(job, None, datetime(2026, 10, 6, 0, 0, tzinfo=UTC), SYDNEY)


def test_prune_keeps_the_newest_and_the_latest_target(tmp_path: Path) -> None:
    names = [f"2026-11-0{day}_0700" for day in range(1, 8)]
    for name in names:
        (tmp_path / name).mkdir()
    (tmp_path / "latest").symlink_to(names[0])
    pruned = prune_runs(tmp_path, keep=3)
    remaining = sorted(p.name for p in tmp_path.iterdir() if not p.is_symlink())
    assert remaining == [names[0], *names[-3:]]
    assert len(pruned.removed) == 3 and not pruned.foreign


def _report_job(folder: Path, gate: Path | None = None) -> Path:
    """A report job named ``slow`` running a notebook of its own, scheduled yearly so that no new slot comes due
    while the test runs. Given a ``gate``, the notebook holds its run (and so the job's lock) until that file
    exists: a test opens the gate once it has seen what it came for, rather than sleeping and hoping."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "sre-workbench", "language": "python", "display_name": "SRE"}
    notebook.metadata["language_info"] = {"name": "python"}
    cell = nbformat.v4.new_code_cell('warehouse = ""\nconfig = ""')
    cell.metadata["tags"] = ["parameters"]
    wait = (
        f"import time\nfrom pathlib import Path\ndeadline = time.monotonic() + 240\n"
        f"while not Path({str(gate)!r}).exists() and time.monotonic() < deadline:\n    time.sleep(0.05)\n"
    )
    notebook.cells = [cell, nbformat.v4.new_code_cell((wait if gate else "") + "print('done')")]
    nb_path = folder / "slow.ipynb"
    nbformat.write(notebook, nb_path)
    jobs = folder / "jobs"
    jobs.mkdir()
    (jobs / "slow.toml").write_text(
        f'report = "dr"\nschedule = "0 0 1 1 *"\nnotebook = "{nb_path}"\nout = "{folder / "out"}"\nkeep = 5\n'
    )
    return jobs


def test_overlapping_due_runs_never_run_the_same_job_twice(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    jobs_dir = _report_job(tmp_path, gate)
    warehouse = tmp_path / "w.duckdb"
    Warehouse(warehouse).ensure_created()
    argv = [SRE, "jobs", "run", "--due", "--jobs-dir", str(jobs_dir), "--warehouse", str(warehouse),
            "--config", str(DEFAULT_CONFIG_PATH)]  # fmt: skip
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # whichever took the lock runs the job until the gate opens, so the other one meets a running job
    deadline = time.monotonic() + 240
    while first.poll() is None and second.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    gate.touch()
    outputs = [p.communicate(timeout=240) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    lines = sorted(out.strip() for out, _ in outputs)
    assert lines[0].startswith("slow: ok: ") and lines[1] == "slow: skipped: already running in another process", lines
    con = Warehouse(warehouse).open_read_only()
    try:
        runs = con.execute("SELECT job, status, output FROM job_runs").fetchall()
    finally:
        con.close()
    assert len(runs) == 1 and runs[0][:2] == ("slow", "ok")
    assert runs[0][2].endswith(".html") and Path(runs[0][2]).exists()

    again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert again.stdout.strip() == "slow: skipped: not due"


def test_a_job_run_by_name_that_is_already_running_exits_1(tmp_path: Path) -> None:
    """Someone (or Airflow's BashOperator) asking for a run must not read 'exit 0' as 'it ran'."""
    jobs_dir = _report_job(tmp_path)
    warehouse = tmp_path / "w.duckdb"
    Warehouse(warehouse).ensure_created()
    lock = tmp_path / "out" / ".locks" / "slow.lock"  # the lock a running job holds
    lock.parent.mkdir(parents=True)
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = subprocess.run(
            [SRE, "jobs", "run", "slow", "--jobs-dir", str(jobs_dir), "--warehouse", str(warehouse),
             "--config", str(DEFAULT_CONFIG_PATH)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1, done
    assert done.stdout.strip() == "slow: skipped: already running in another process"
    assert not (tmp_path / "out" / "dr").exists()  # nothing ran


def test_a_due_check_waits_for_a_writer_rather_than_read_an_old_job_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = load_jobs(_report_job(tmp_path))["slow"]
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_created()

    def report(*_args: object) -> str:  # what a report run does to the warehouse: publish a read snapshot
        warehouse.current_snapshot()
        return "report written"

    monkeypatch.setattr(jobs_module, "_perform", report)  # the notebook itself is not what is tested here
    assert run_job(job, DEFAULT_CONFIG_PATH, warehouse.path, only_if_due=True).status == "ok"
    # Its log row is written, not yet in any read snapshot; now a collection holds the write lock for a second.
    holding, release = threading.Event(), threading.Event()

    def collection() -> None:
        with warehouse.write_run("test"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=collection)
    holder.start()
    holding.wait(10)
    threading.Timer(1.0, release.set).start()
    copies = sorted(warehouse.snapshot_dir.glob("*.duckdb"))
    outcome = run_job(job, DEFAULT_CONFIG_PATH, warehouse.path, only_if_due=True)
    holder.join()
    assert (outcome.status, outcome.detail) == ("skipped", "not due")
    assert sorted(warehouse.snapshot_dir.glob("*.duckdb")) == copies  # read in place: no snapshot copy


def test_jobs_list_shows_next_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [SRE, "jobs", "list", "--warehouse", str(tmp_path / "none.duckdb")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    capacity = next(line for line in result.stdout.splitlines() if line.startswith("capacity-daily"))
    assert "last never" in capacity and "next " in capacity and "DUE" in capacity


def test_jobs_list_names_a_bad_job_file_and_lists_the_good_ones(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text('report = "dr"\nschedule = "0 9 1 * *"\n')
    (tmp_path / "feb31.toml").write_text('report = "dr"\nschedule = "0 7 31 2 *"\n')
    result = subprocess.run(
        [SRE, "jobs", "list", "--jobs-dir", str(tmp_path), "--warehouse", str(tmp_path / "none.duckdb")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"sre: error: {tmp_path / 'feb31.toml'}: expected a cron schedule that comes due in `schedule`, "
        "got '0 7 31 2 *'"
    )
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["good"]


def test_a_job_run_by_name_is_not_stopped_by_another_jobs_bad_file(tmp_path: Path) -> None:
    jobs_dir = _report_job(tmp_path)
    (jobs_dir / "broken.toml").write_text(
        'report = "capacity"\nschedule = "0 7 * * *"\n[parameters]\nhorizon_days = 1095\n'
    )
    warehouse = tmp_path / "w.duckdb"
    Warehouse(warehouse).ensure_created()
    argv = [SRE, "jobs", "run", "--jobs-dir", str(jobs_dir), "--warehouse", str(warehouse),
            "--config", str(DEFAULT_CONFIG_PATH)]  # fmt: skip
    good = subprocess.run([*argv, "slow"], capture_output=True, text=True, timeout=120)
    assert good.returncode == 0 and good.stdout.startswith("slow: ok: "), good
    bad = subprocess.run([*argv, "broken"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (
        f"sre: error: {jobs_dir / 'broken.toml'}: parameters: parameter 'horizon_days' of capacity.ipynb: "
        "expected 1 to 730, got 1095"
    )


def test_a_report_job_without_a_warehouse_fails_clearly_and_creates_none(tmp_path: Path) -> None:
    job = load_jobs(_report_job(tmp_path))["slow"]
    missing = tmp_path / "none.duckdb"
    outcome = run_job(job, DEFAULT_CONFIG_PATH, missing, only_if_due=True)
    assert outcome.status == "failed" and "does not exist: build the demo (sre demo) or collect" in outcome.detail
    assert not missing.exists() and not list(tmp_path.glob("none.duckdb*"))


def test_jobs_list_after_some_jobs_ran_and_others_not(tmp_path: Path) -> None:
    from sre_lib.app import jobs as jobs_module

    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_created()
    collect = load_jobs(DEFAULT_JOBS_DIR)["collect-redis"]
    jobs_module._record(warehouse, collect, None, datetime(2026, 11, 30, 1, 0, tzinfo=UTC), "ok", "done", None)
    result = subprocess.run(
        [SRE, "jobs", "list", "--warehouse", str(warehouse.path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "last 2026-11-30 12:00" in lines["collect-redis"]  # 01:00 UTC in Sydney (AEDT)
    assert "last never" in lines["capacity-daily"]


def test_one_broken_job_file_does_not_stop_the_others(tmp_path: Path) -> None:
    from sre_lib.app.jobs import load_jobs_leniently

    (tmp_path / "good.toml").write_text(f'report = "dr"\nschedule = "0 9 1 * *"\nout = "{tmp_path / "reports"}"\n')
    (tmp_path / "broken.toml").write_text('report = "dr"\nschedule = "every day"\n')
    (tmp_path / "elsewhere.toml").write_text(
        'report = "dr"\nschedule = "0 9 1 * *"\nnotebook = "notebooks/nope.ipynb"\n'
    )
    jobs, problems = load_jobs_leniently(tmp_path)
    assert list(jobs) == ["good"]
    assert [problem.split(": ")[0] for problem in problems] == [str(tmp_path / "broken.toml"),
                                                                str(tmp_path / "elsewhere.toml")]  # fmt: skip
    assert "notebook: 'notebooks/nope.ipynb' is not a file" in problems[1]
    result = subprocess.run(
        [SRE, "jobs", "run", "--due", "--jobs-dir", str(tmp_path), "--warehouse", str(tmp_path / "none.duckdb")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "broken.toml: expected a cron schedule" in result.stderr and "good: failed: " in result.stdout  # it ran
    with pytest.raises(ConfigError, match=r"jobs directory .*missing does not exist"):
        load_jobs(tmp_path / "missing")


def test_a_run_logged_in_the_future_does_not_stop_the_job() -> None:
    job = Job(name="daily", report="capacity", schedule="0 7 * * *")
    now = datetime(2026, 11, 30, 1, tzinfo=UTC)
    assert is_due(job, datetime(2027, 11, 30, tzinfo=UTC), now, SYDNEY)  # the clock was a year ahead once


def test_a_job_whose_log_cannot_be_written_is_reported_failed_and_the_next_job_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sre_lib.app import jobs as jobs_module
    from sre_lib.app.jobs import run_due
    from sre_lib.errors import WarehouseBusyError

    def busy(*_args: object) -> None:
        raise WarehouseBusyError("warehouse w.duckdb is busy: another run has held its write lock for over 120 s")

    monkeypatch.setattr(jobs_module, "_perform", lambda *_args: "report written")
    monkeypatch.setattr(jobs_module, "_record", busy)
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_created()
    jobs = {name: Job(name=name, report="dr", schedule="0 9 1 * *", out=str(tmp_path / "r")) for name in ("a", "b")}
    outcomes = run_due(jobs, DEFAULT_CONFIG_PATH, warehouse.path)
    assert [outcome.status for outcome in outcomes] == ["failed", "failed"]  # both ran: one did not stop the other
    assert "ran, but the job log could not be written: warehouse w.duckdb is busy" in outcomes[0].detail


@pytest.mark.parametrize(
    ("schedule", "day", "expected_local"),
    [
        # clocks go back on 2027-04-04 at 03:00 AEDT -> 02:00 AEST: every 15 min of real time is collected ...
        ("*/15 * * * *", datetime(2027, 4, 3, 14, 0, tzinfo=UTC),
         ["01:15", "01:30", "01:45", "02:00", "02:15", "02:30", "02:45", "02:00", "02:15", "02:30", "02:45", "03:00"]),
        # ... and a job at a fixed hour runs once, not again in the repeated hour
        ("30 2 * * *", datetime(2027, 4, 3, 14, 0, tzinfo=UTC), ["04 02:30 AEDT", "05 02:30 AEST"]),
        # clocks go forward on 2026-10-04 at 02:00 AEST -> 03:00 AEDT: 02:30 does not exist, it runs at 03:00
        ("30 2 * * *", datetime(2026, 10, 3, 14, 0, tzinfo=UTC), ["04 03:00 AEDT", "05 02:30 AEDT"]),
    ],
)  # fmt: skip
def test_due_runs_through_daylight_saving_changes_as_cron_does(
    schedule: str, day: datetime, expected_local: list[str]
) -> None:
    job = Job(name="j", collect="redis", schedule=schedule)
    now, last, runs = day, None, []
    while now < day + timedelta(hours=33):
        if is_due(job, last, now, SYDNEY):
            if last is not None:
                runs.append(now.astimezone(SYDNEY))
            last = now
        now += timedelta(minutes=5)
    if schedule.startswith("*/15"):
        assert [f"{run:%H:%M}" for run in runs[:12]] == expected_local
        gaps = {later.astimezone(UTC) - earlier.astimezone(UTC) for earlier, later in itertools.pairwise(runs)}
        assert gaps == {timedelta(minutes=15)}  # real time, even through the repeated hour
    else:
        assert [f"{run:%d %H:%M %Z}" for run in runs] == expected_local


def test_a_failed_run_is_retried_an_hour_later_not_at_its_next_slot(tmp_path: Path) -> None:
    from sre_lib.app import jobs as jobs_module
    from sre_lib.app.jobs import RETRY_FAILED_AFTER, due_now, run_history

    monthly = Job(name="dr-monthly", report="dr", schedule="0 9 1 * *")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_created()
    failed_at = datetime(2026, 11, 30, 22, 0, 5, tzinfo=UTC)  # 09:00:05 AEDT on the 1st: the slot's run, failed
    jobs_module._record(warehouse, monthly, None, failed_at, "failed", "", "warehouse is busy")
    history = run_history(warehouse)["dr-monthly"]
    assert history.failed and history.started == failed_at
    assert not due_now(monthly, history, failed_at + RETRY_FAILED_AFTER - timedelta(minutes=1), SYDNEY)
    assert due_now(monthly, history, failed_at + RETRY_FAILED_AFTER, SYDNEY)  # not a month later
    jobs_module._record(warehouse, monthly, None, failed_at + RETRY_FAILED_AFTER, "ok", "done", None)
    retried = run_history(warehouse)["dr-monthly"]
    assert not retried.failed and not due_now(monthly, retried, failed_at + timedelta(days=2), SYDNEY)


def test_a_deeply_nested_job_file_is_named_and_the_other_jobs_still_load(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(f'report = "dr"\nschedule = "0 9 1 * *"\nout = "{tmp_path / "reports"}"\n')
    (tmp_path / "deep.toml").write_text("parameters = " + "[" * 400 + "]" * 400 + "\n")
    jobs, problems = load_jobs_leniently(tmp_path)
    assert list(jobs) == ["good"]
    assert problems == [f"{tmp_path / 'deep.toml'}: nested 400 levels deep: expected at most 16 levels of tables"]


JOB_NAME_ERROR = "a job name of 1 to 64 lower-case letters, digits, '-' and '_', starting with a letter or digit"


@pytest.mark.parametrize("name", ["../../escaped", "daily\nrm", "<b>daily</b>", "Daily", "-daily", "", "a" * 65, "x.y"])
def test_a_job_name_outside_the_safe_pattern_is_refused_naming_the_file(tmp_path: Path, name: str) -> None:
    """A job's name is its lock file's name and a line of output: no path, newline or markup may ride in it."""
    (tmp_path / "evil.toml").write_text(f'name = {json.dumps(name)}\nreport = "dr"\nschedule = "0 9 1 * *"\n')
    (tmp_path / "good.toml").write_text('report = "dr"\nschedule = "0 9 1 * *"\n')
    jobs, problems = load_jobs_leniently(tmp_path)
    assert list(jobs) == ["good"]
    assert problems == [f"{tmp_path / 'evil.toml'}: name: expected {JOB_NAME_ERROR}, got {name!r}"]
    with pytest.raises(ValidationError):
        Job(name=name, report="dr", schedule="0 9 1 * *")


@pytest.mark.parametrize("file_name", ["Capacity.toml", "daily report.toml", "x.y.toml", "_hidden.toml"])
def test_a_job_file_whose_name_is_not_a_job_name_is_refused(tmp_path: Path, file_name: str) -> None:
    (tmp_path / file_name).write_text('name = "fine"\nreport = "dr"\nschedule = "0 9 1 * *"\n')
    jobs, problems = load_jobs_leniently(tmp_path)
    assert not jobs
    assert problems == [
        f"{tmp_path / file_name}: file name: expected {JOB_NAME_ERROR}, then .toml; got {Path(file_name).stem!r}"
    ]


def test_sre_jobs_refuses_a_name_that_would_lead_out_of_its_folders(tmp_path: Path) -> None:
    """Through the command, from another folder: `jobs run ../../x` names no file outside the jobs folder, and a
    job file naming itself ../../x writes no lock outside `.locks/` (before, it wrote <out>/../x.lock)."""
    jobs_dir, elsewhere = tmp_path / "jobs", tmp_path / "elsewhere"
    jobs_dir.mkdir()
    elsewhere.mkdir()
    (tmp_path / "x.toml").write_text('report = "dr"\nschedule = "0 9 1 * *"\n')
    (jobs_dir / "evil.toml").write_text(
        f'name = "../../escaped"\nreport = "dr"\nschedule = "0 9 1 * *"\nout = "{tmp_path / "out" / "reports"}"\n'
    )
    argv = [SRE, "jobs", "run", "--jobs-dir", str(jobs_dir), "--warehouse", str(tmp_path / "none.duckdb")]
    by_name = subprocess.run([*argv, "../x"], capture_output=True, text=True, timeout=60, cwd=elsewhere)
    assert by_name.returncode == 1
    assert by_name.stderr.strip() == f"sre: error: job name '../x': expected {JOB_NAME_ERROR}"
    due = subprocess.run([*argv, "--due"], capture_output=True, text=True, timeout=60, cwd=elsewhere)
    assert due.returncode == 1 and "Traceback" not in due.stderr
    assert due.stderr.strip() == (
        f"sre: error: {jobs_dir / 'evil.toml'}: name: expected {JOB_NAME_ERROR}, got '../../escaped'"
    )
    assert not list(tmp_path.rglob("*.lock")) and not (tmp_path / "out").exists()


#: Schedules that are not five cron fields, each with its count of fields
NOT_FIVE_FIELDS = [
    ("0 0 7 * * *", 6),  # croniter reads the sixth as seconds: each second of 00:00 on the 7th
    ("0 7 * * * 0", 6),
    ("0 0 7 * * * 2026", 7),  # with a year
    ("@daily", 1),
    ("0 7 * *", 4),
]


def test_a_cron_schedule_must_have_exactly_five_fields(tmp_path: Path) -> None:
    """croniter reads a sixth field as seconds (a job run again each second of its minute) and a seventh as
    years; cron has five fields, and a job file with more is refused rather than run twice. One `sre jobs list`
    names every such file, each on its own line."""
    for number, (schedule, _fields) in enumerate(NOT_FIVE_FIELDS):
        (tmp_path / f"odd{number}.toml").write_text(f'report = "dr"\nschedule = "{schedule}"\n')
    result = subprocess.run(
        [SRE, "jobs", "list", "--jobs-dir", str(tmp_path), "--warehouse", str(tmp_path / "none.duckdb")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout.strip() == "no jobs"
    assert result.stderr.strip().splitlines() == [
        f"sre: error: {tmp_path / f'odd{number}.toml'}: expected a cron schedule of five fields (minute hour "
        f"day-of-month month day-of-week) such as '0 7 * * *' in `schedule`, got {schedule!r} ({fields} field"
        f"{'s' if fields != 1 else ''})"
        for number, (schedule, fields) in enumerate(NOT_FIVE_FIELDS)
    ]


def test_a_relative_out_is_read_against_the_project_not_the_current_folder() -> None:
    relative = Job(name="j", report="dr", schedule="0 9 1 * *", out="reports/elsewhere")
    assert relative.out_dir == PROJECT_ROOT / "reports" / "elsewhere"
    assert Job(name="j", report="dr", schedule="0 9 1 * *", out="../up").out_dir == PROJECT_ROOT.parent / "up"
    assert Job(name="j", report="dr", schedule="0 9 1 * *", out="/srv/reports").out_dir == Path("/srv/reports")
    assert Job(name="j", report="dr", schedule="0 9 1 * *").out_dir == PROJECT_ROOT / "reports"


def _marked_run(report_dir: Path, day: int, files: dict[str, str] | None = None) -> Path:
    """A run folder made and marked by the report runner itself, holding the given files."""
    folder = _new_run_directory(report_dir, datetime(2026, 11, day, 7, 0), "dr_readiness")
    for name, text in (files or {"dr_readiness.ipynb": "{}", "dr_readiness.html": "<p>", "status.json": "{}"}).items():
        (folder / name).write_text(text)
    return folder


def test_prune_deletes_only_the_workbenchs_own_runs_and_names_what_it_left(tmp_path: Path) -> None:
    report_dir = tmp_path / "out" / "dr"
    precious = tmp_path / "precious.txt"
    precious.write_text("not a report")
    outside = tmp_path / "outside-run"
    outside.mkdir()
    (outside / "dr_readiness.ipynb").write_text("{}")
    oldest = _marked_run(report_dir, 1)
    with_notes = _marked_run(report_dir, 2)
    (with_notes / "notes.txt").write_text("my analysis")
    with_folder = _marked_run(report_dir, 3)
    (with_folder / "charts").mkdir()
    with_link = _marked_run(report_dir, 4)
    (with_link / "dr_readiness.html").unlink()
    (with_link / "dr_readiness.html").symlink_to(precious)
    pointed_at = _marked_run(report_dir, 5)
    copied = report_dir / "2026-11-06_0700"
    copied.mkdir()
    (copied / RUN_MARKER).write_text((oldest / RUN_MARKER).read_text())  # a marker copied from another run
    other_report = report_dir / "2026-11-07_0700"
    other_report.mkdir()
    (other_report / RUN_MARKER).write_text((oldest / RUN_MARKER).read_text().replace('"dr"', '"capacity"'))
    legacy = report_dir / "2026-11-08_0700"  # made before runs were marked: named like one, holding only one
    legacy.mkdir()
    for name in ("dr_readiness.ipynb", "dr_readiness.html", "status.json", "FAILED"):
        (legacy / name).write_text("x")
    legacy_mixed = report_dir / "2026-11-09_0700"
    legacy_mixed.mkdir()
    (legacy_mixed / "dr_readiness.ipynb").write_text("{}")
    (legacy_mixed / "capacity.ipynb").write_text("{}")
    mine = report_dir / "mine"
    mine.mkdir()
    (report_dir / "2026-11-10_0700").symlink_to(outside, target_is_directory=True)  # a link is never followed
    newest = _marked_run(report_dir, 11)
    (report_dir / "latest").symlink_to(pointed_at.name)

    pruned = prune_runs(report_dir, keep=1, notebook_stems={"dr_readiness"})

    left = [with_notes, with_folder, with_link, copied, other_report, legacy_mixed, mine]
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(
        [p.name for p in left] + [pointed_at.name, "2026-11-10_0700", newest.name, "latest"]
    )
    assert (with_notes / "notes.txt").read_text() == "my analysis" and (with_notes / "dr_readiness.ipynb").exists()
    assert precious.read_text() == "not a report" and (outside / "dr_readiness.ipynb").exists()
    assert (pruned.removed, pruned.foreign, pruned.failed) == ([oldest, legacy], left, [])
    assert pruned.note(report_dir) == (
        f"; pruning left 7 folder(s) in {report_dir} that are not runs of the workbench or hold more than a run "
        "writes: '2026-11-02_0700', '2026-11-03_0700', '2026-11-04_0700', '2026-11-06_0700', '2026-11-07_0700', "
        "'2026-11-09_0700', 'mine'"
    )
    again = prune_runs(report_dir, keep=1, notebook_stems={"dr_readiness"})
    assert not again.removed and again.foreign == pruned.foreign


def test_a_job_from_another_folder_writes_under_the_project_and_prunes_only_its_runs(tmp_path: Path) -> None:
    """Through `sre jobs run` from another working directory: a relative `out` is the project's, every run
    carries the runner's marker and writes only files a run may hold, and with keep = 1 the previous run goes
    while a folder of the user's stays and is named."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "sre-workbench", "language": "python", "display_name": "SRE"}
    cell = nbformat.v4.new_code_cell('warehouse = ""\nconfig = ""')
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = [cell, nbformat.v4.new_code_cell("print('done')")]
    nbformat.write(notebook, tmp_path / "quick.ipynb")
    out = tmp_path / "out"
    relative_out = os.path.relpath(out, PROJECT_ROOT)  # ../../tmp/...: relative, yet no file in the checkout
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    (jobs_dir / "quick.toml").write_text(
        f'report = "dr"\nschedule = "0 0 1 1 *"\nnotebook = "{tmp_path / "quick.ipynb"}"\nout = "{relative_out}"\n'
        "keep = 1\n"
    )
    (out / "dr" / "mine").mkdir(parents=True)
    (out / "dr" / "mine" / "notes.txt").write_text("keep me")
    # the previous run, made and marked by the runner as the command's own run is (checked below)
    previous = _new_run_directory(out / "dr", datetime(2001, 1, 1, 7, 0), "quick")  # older than any run
    for name in ("quick.ipynb", "quick.html", "status.json"):
        (previous / name).write_text("{}")
    (out / "dr" / "latest").symlink_to(previous.name)
    warehouse = tmp_path / "w.duckdb"
    Warehouse(warehouse).ensure_created()
    elsewhere = tmp_path / "a" / "b"  # read against here, the relative out would land in tmp_path/tmp/...
    elsewhere.mkdir(parents=True)
    argv = [SRE, "jobs", "run", "quick", "--jobs-dir", str(jobs_dir), "--warehouse", str(warehouse),
            "--config", str(DEFAULT_CONFIG_PATH)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=elsewhere)
    assert done.returncode == 0, done
    assert not previous.exists()
    (run,) = [p for p in (out / "dr").iterdir() if p.name not in ("mine", "latest")]
    marker = json.loads((run / RUN_MARKER).read_text())
    assert marker["workbench"] == "sre-workbench"
    assert (marker["report"], marker["run"], marker["notebook"]) == ("dr", run.name, "quick")
    # only files a run may hold, so that the next run of the job prunes this one as it pruned the previous
    assert {path.name for path in run.iterdir()} <= run_file_names("quick") | {RUN_MARKER}
    assert (out / ".locks" / "quick.lock").exists() and not list(elsewhere.rglob("*"))
    left = f"; pruning left 1 folder(s) in {out / 'dr'} that are not runs of the workbench"
    assert done.stdout.startswith(f"quick: ok: {run / 'quick.html'}{left}")
    assert done.stdout.strip().endswith(": 'mine'") and done.stdout.count("'mine'") == 1
    assert (out / "dr" / "latest").resolve() == run
    assert (out / "dr" / "mine" / "notes.txt").read_text() == "keep me"
