"""Scheduled jobs: one TOML file per job in ``papermill_jobs/``, run by ``sre jobs run``.

A job renders a report (``report = "capacity"``) or collects a source (``collect = "postgres"``) on a cron
``schedule`` read in the platform's time zone, daylight saving included. ``sre jobs run --due`` is meant for
cron every few minutes: it runs each job whose latest scheduled slot has passed since its last run. Two
overlapping invocations never run the same job twice: each job runs under an exclusive ``flock``, and the
run is logged in the warehouse (``job_runs``) before the lock is released, so the second invocation sees it.
A report job then prunes its old runs: only folders the report runner marked as its own, holding nothing else.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
from croniter import CroniterError, croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sre_lib.app.report_runner import (
    DEFAULT_OUT_DIR,
    NOTEBOOK_DIR,
    REPORTS,
    RUN_MARKER,
    RUN_MARKER_WORKBENCH,
    RUN_NAME_PATTERN,
    check_parameters,
    run_file_names,
    run_report,
)
from sre_lib.config import PROJECT_ROOT, PlatformConfig, describe_validation_error, load_config, parse_toml
from sre_lib.durations import parse_duration
from sre_lib.errors import ConfigError, SreError, WarehouseBusyError
from sre_lib.locations import home_or_shipped
from sre_lib.secrets import environment_secrets, redact
from sre_lib.warehouse.store import Warehouse

#: The home's papermill_jobs/ if it has one, else the example jobs the project ships
DEFAULT_JOBS_DIR = home_or_shipped("papermill_jobs", PROJECT_ROOT)

#: A job's name becomes a file name (its lock) and a line of output: no path separators, newlines or markup.
JOB_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
JOB_NAME_EXPECTED = "a job name of 1 to 64 lower-case letters, digits, '-' and '_', starting with a letter or digit"
CRON_FIELDS = "minute hour day-of-month month day-of-week"


def check_job_name(name: str) -> str:
    """The name, if it is a safe job name; ConfigError saying what a job name may hold otherwise."""
    if not JOB_NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"job name {name!r}: expected {JOB_NAME_EXPECTED}")
    return name


class Job(BaseModel):
    """One scheduled job, validated from its TOML file."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str
    schedule: str
    report: Literal["capacity", "slow-queries", "dr"] | None = None
    collect: Literal["prometheus", "postgres", "redis", "backups"] | None = None
    description: str = ""
    notebook: str | None = None  # report notebook, relative to the project; default: the report's own
    parameters: dict[str, Any] = {}
    out: str | None = None  # output directory, relative to the project; default reports/
    keep: Annotated[int, Field(ge=1)] = 30
    time_limit_seconds: Annotated[int, Field(gt=0)] = 900
    since: str = "1h"  # collect jobs: window for prometheus

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not JOB_NAME_PATTERN.fullmatch(name):
            raise ValueError(f"{JOB_NAME_EXPECTED}, got {name!r}")
        return name

    @model_validator(mode="after")
    def _one_kind(self) -> Job:
        if (self.report is None) == (self.collect is None):
            raise ValueError("exactly one of `report` or `collect`")
        fields = len(self.schedule.split())
        if fields != 5:  # croniter reads a sixth field as seconds and a seventh as years
            raise ValueError(
                f"a cron schedule of five fields ({CRON_FIELDS}) such as '0 7 * * *' in `schedule`, "
                f"got {self.schedule!r} ({fields} field{'s' if fields != 1 else ''})"
            )
        if not croniter.is_valid(self.schedule):
            raise ValueError(f"a cron schedule such as '0 7 * * *' in `schedule`, got {self.schedule!r}")
        try:  # valid fields can still name a day that never comes ('0 7 31 2 *')
            croniter(self.schedule, datetime(2000, 1, 1)).get_next(datetime)
        except CroniterError:
            raise ValueError(f"a cron schedule that comes due in `schedule`, got {self.schedule!r}") from None
        if self.collect is not None:
            parse_duration(self.since, "since")
            _ = self.step  # refuses a bad parameters.step now, not at run time
        return self

    @property
    def step(self) -> timedelta:
        """The resolution a collect job asks for (``parameters.step``, default 1m; prometheus only)."""
        return parse_duration(str(self.parameters.get("step", "1m")), "parameters.step")

    @property
    def kind(self) -> str:
        return "report" if self.report else "collect"

    @property
    def out_dir(self) -> Path:
        """Where the job's reports and lock go: ``out`` read against the project, as ``notebook`` is, so that
        cron, systemd and a shell in another folder all use the same one."""
        return (PROJECT_ROOT / self.out).resolve() if self.out else DEFAULT_OUT_DIR

    @property
    def notebook_path(self) -> Path:
        """The notebook a report job runs: its own ``notebook`` under the project, else the report's."""
        assert self.report is not None
        return PROJECT_ROOT / self.notebook if self.notebook else NOTEBOOK_DIR / REPORTS[self.report]

    def next_run(self, after: datetime, tz: ZoneInfo) -> datetime:
        """The first scheduled slot strictly after ``after``, in the platform's time zone."""
        return croniter(self.schedule, after.astimezone(tz)).get_next(datetime)

    def previous_slot(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The latest scheduled slot at or before ``now``."""
        return croniter(self.schedule, now.astimezone(tz) + timedelta(seconds=1)).get_prev(datetime)


def load_jobs(directory: str | os.PathLike[str] | None = None) -> dict[str, Job]:
    """Every ``*.toml`` job in the directory, by name; the first bad file raises ConfigError naming file and key."""
    jobs, problems = load_jobs_leniently(directory)
    if problems:
        raise ConfigError(problems[0])
    return jobs


def load_jobs_leniently(directory: str | os.PathLike[str] | None = None) -> tuple[dict[str, Job], list[str]]:
    """The good jobs of the directory, and one message per bad file (naming file and key), so that one broken
    file does not stop every other job. A missing directory is an error, not an empty schedule."""
    folder = Path(directory or DEFAULT_JOBS_DIR)
    if not folder.is_dir():
        raise ConfigError(f"jobs directory {folder} does not exist: expected a folder of *.toml job files")
    jobs: dict[str, Job] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            job = load_job(path)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if job.name in jobs:
            problems.append(f"{path}: name: job {job.name!r} is defined twice")
            continue
        jobs[job.name] = job
    return jobs, problems


def job_file(directory: str | os.PathLike[str] | None, name: str) -> Path:
    """Where a job of that name is defined by default: ``<directory>/<name>.toml`` (ConfigError for a name that
    is not a job name, such as ``../x``)."""
    return Path(directory or DEFAULT_JOBS_DIR) / f"{check_job_name(name)}.toml"


def load_job(path: Path) -> Job:
    """One job file, validated; ConfigError naming the file, the key and what was expected."""
    if not JOB_NAME_PATTERN.fullmatch(path.stem):
        raise ConfigError(f"{path}: file name: expected {JOB_NAME_EXPECTED}, then .toml; got {path.stem!r}")
    try:
        raw = parse_toml(path.read_text(encoding="utf-8"), str(path))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text: expected a TOML job file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    raw.setdefault("name", path.stem)
    try:
        job = Job.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, str(path))) from None
    except SreError as exc:  # since, parameters.step
        raise ConfigError(f"{path}: {exc}") from None
    if job.notebook is not None and not (PROJECT_ROOT / job.notebook).is_file():
        raise ConfigError(f"{path}: notebook: {job.notebook!r} is not a file under {PROJECT_ROOT}")
    if job.report is not None:
        try:
            check_parameters(job.parameters, job.notebook_path)
        except SreError as exc:
            raise ConfigError(f"{path}: parameters: {exc}") from None
    return job


#: A job whose last run failed is tried again at the next due check this long after it, not at its next slot
#: (a month away for the DR report), and not at every check either (that would hammer a broken dependency).
RETRY_FAILED_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class RunHistory:
    """A job's last start, and whether that run failed."""

    started: datetime
    failed: bool


def run_history(warehouse: Warehouse) -> dict[str, RunHistory]:
    """Each job's last run, from the warehouse's job log (empty if there is no warehouse yet).

    Read from the warehouse file under its write lock, not from a read snapshot: a log one run old would run
    a job twice, and a snapshot copy per due check would cost a copy of the warehouse every few minutes.
    """
    if not warehouse.path.exists():
        return {}
    with warehouse.read_latest() as con:
        try:
            rows = con.execute(
                "SELECT job, max(started_at), arg_max(status, started_at) FROM job_runs GROUP BY job"
            ).fetchall()
        except duckdb.CatalogException:  # a warehouse made before job_runs existed
            rows = []
    return {job: RunHistory(started, status == "failed") for job, started, status in rows}


def due_now(job: Job, history: RunHistory | None, now: datetime, tz: ZoneInfo) -> bool:
    """``is_due`` on the last run, except that a failed last run is retried RETRY_FAILED_AFTER later."""
    if history is not None and history.failed and now - history.started >= RETRY_FAILED_AFTER:
        return True
    return is_due(job, history.started if history else None, now, tz)


def schedule_table(jobs: dict[str, Job], config: PlatformConfig, warehouse: Warehouse, now: datetime) -> pd.DataFrame:
    """Each job with its schedule, last run, next run and whether it is due now."""
    previous = run_history(warehouse)
    rows = []
    for job in jobs.values():
        history = previous.get(job.name)
        last = history.started if history else None
        rows.append(
            {
                "job": job.name,
                "does": f"report {job.report}" if job.report else f"collect {job.collect}",
                "schedule": job.schedule,
                "last_run": last.astimezone(config.tz) if last else None,
                "next_run": job.next_run(now, config.tz),
                "due": due_now(job, history, now, config.tz),
            }
        )
    return pd.DataFrame(rows)


def is_due(job: Job, last_run: datetime | None, now: datetime, tz: ZoneInfo) -> bool:
    """Due when the first scheduled slot after its last run has come (or it never ran).

    Daylight saving, as cron does it: when clocks go back, a job at fixed hours (``30 2 * * *``) runs once,
    not again in the repeated hour, while a job that runs every hour (``*/15 * * * *``) keeps its pace through
    it; when clocks go forward, a slot in the skipped hour runs at the first time after it. A last run later
    than now (a clock that was set ahead) counts as due: otherwise the job would sleep until the clock caught up.
    """
    if last_run is None or last_run > now:
        return True
    slot = job.next_run(last_run, tz)
    if _second_pass(slot) and job.schedule.split()[1] != "*":
        slot = job.next_run(slot, tz)  # the same wall-clock slot, again after clocks went back: once is enough
    return slot <= now


def _second_pass(moment: datetime) -> bool:
    """Whether a local time is the second of the two that share a wall-clock time when clocks go back."""
    first, second = moment.replace(fold=0), moment.replace(fold=1)
    return first.utcoffset() != second.utcoffset() and moment.utcoffset() == second.utcoffset()


@dataclass(frozen=True)
class JobOutcome:
    job: str
    status: str  # ok, failed, skipped
    detail: str

    def __str__(self) -> str:
        return f"{self.job}: {self.status}: {self.detail}"


def run_job(
    job: Job,
    config_path: str | os.PathLike[str] | None = None,
    warehouse_path: str | os.PathLike[str] | None = None,
    only_if_due: bool = False,
    now: datetime | None = None,
) -> JobOutcome:
    """Run one job under its lock, log it in the warehouse, prune old report runs."""
    config = load_config(config_path)
    warehouse = Warehouse(warehouse_path)
    out_dir = job.out_dir
    with _job_lock(out_dir, job.name) as acquired:
        if not acquired:
            return JobOutcome(job.name, "skipped", "already running in another process")
        current = now or datetime.now(UTC)
        if only_if_due:
            try:
                history = run_history(warehouse).get(job.name)
            except WarehouseBusyError as exc:  # safer to skip this turn than to risk a second run
                return JobOutcome(job.name, "skipped", f"cannot read the job log: {exc}")
            if not due_now(job, history, current, config.tz):
                return JobOutcome(job.name, "skipped", "not due")
        slot = job.previous_slot(current, config.tz) if only_if_due else None
        started = datetime.now(UTC)
        status, output, error = "ok", "", None
        try:
            output = _perform(job, config, config_path, warehouse, out_dir)
        except SreError as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # a bug or an unforeseen failure fails this job, not the jobs after it
            status, error = "failed", redact(f"{type(exc).__name__}: {exc}", environment_secrets())
        if warehouse.path.exists():  # a report that failed for want of a warehouse does not create an empty one
            try:
                _record(warehouse, job, slot, started, status, output, error)
            except SreError as exc:  # it ran; say so, and that it will run again since the log lacks it
                status = "failed"
                error = f"{error + '; ' if error else ''}ran, but the job log could not be written: {exc}"
        note = ""
        if job.report:
            stems = {job.notebook_path.stem, Path(REPORTS[job.report]).stem}  # runs made before markers
            pruned = prune_runs(out_dir / job.report, job.keep, stems)
            note = pruned.note(out_dir / job.report)
    return JobOutcome(job.name, status, (output if status == "ok" else str(error)) + note)


def _perform(job: Job, config: PlatformConfig, config_path: Any, warehouse: Warehouse, out_dir: Path) -> str:
    if job.report:
        run = run_report(
            job.report, warehouse=warehouse.path, config=config_path, out_dir=out_dir,
            parameters=job.parameters, time_limit_seconds=job.time_limit_seconds,
            notebook=job.notebook_path,
        )  # fmt: skip
        return str(run.html or run.directory)
    from sre_lib.collect.by_source import collect_once, collection_window

    start, end = collection_window(job.since, None, None)
    assert job.collect is not None
    return collect_once(job.collect, warehouse, config, start, end, job.step)


def _record(
    warehouse: Warehouse, job: Job, slot: datetime | None, started: datetime, status: str, output: str,
    error: str | None,
) -> None:  # fmt: skip
    row = pd.DataFrame(
        [{"job": job.name, "kind": job.kind, "scheduled_for": slot, "started_at": started,
          "finished_at": datetime.now(UTC), "status": status, "output": output, "error": error}]
    )  # fmt: skip
    with warehouse.write_run("jobs", log=False) as run:
        run.replace_rows("job_runs", row)


@dataclass(frozen=True)
class Pruned:
    """What pruning a report's folder did: the runs it deleted, and the folders it left."""

    removed: list[Path]
    foreign: list[Path]  # not a run the workbench made, or holding more than a run writes
    failed: list[str]  # runs that could not be deleted, each with the reason

    def note(self, report_dir: Path) -> str:
        """A sentence for the job's output naming each folder left, or nothing when every folder was a run."""
        parts = []
        if self.foreign:
            names = ", ".join(repr(path.name) for path in self.foreign)
            parts.append(
                f"; pruning left {len(self.foreign)} folder(s) in {report_dir} that are not runs of the workbench "
                f"or hold more than a run writes: {names}"
            )
        if self.failed:
            parts.append(f"; pruning could not delete {', '.join(self.failed)}")
        return "".join(parts)


def prune_runs(report_dir: Path, keep: int, notebook_stems: Collection[str] = ()) -> Pruned:
    """Delete all but the ``keep`` newest runs in a report's folder, never the one ``latest`` points to.

    Only folders the report runner made are runs: they carry its marker (naming this report and this folder),
    or, made before runs were marked, are named like a run and hold only a run of one of ``notebook_stems``.
    A run is deleted only if it holds nothing but regular files a run writes; anything else is left and listed.
    Files are unlinked one by one and the folder removed only once empty, so no symlink is followed and a file
    added meanwhile survives.
    """
    if not report_dir.is_dir():
        return Pruned([], [], [])
    pointer = report_dir / "latest"
    protected = pointer.resolve() if pointer.exists() else None
    runs: list[tuple[Path, list[Path]]] = []
    foreign: list[Path] = []
    with os.scandir(report_dir) as entries:
        folders = sorted(Path(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False))
    for folder in folders:
        files = _run_files(folder, report_dir.name, notebook_stems)
        if files is None:
            foreign.append(folder)
        else:
            runs.append((folder, files))
    removed, failed = [], []
    for folder, files in runs[:-keep] if keep < len(runs) else []:
        if folder.resolve() == protected:
            continue
        try:
            for file in files:
                file.unlink(missing_ok=True)
            folder.rmdir()
        except OSError as exc:
            failed.append(f"{folder.name!r} ({exc.strerror})")
            continue
        removed.append(folder)
    return Pruned(removed, foreign, failed)


def _run_files(folder: Path, report: str, legacy_stems: Collection[str]) -> list[Path] | None:
    """The files of a run folder the report runner made, or None if it is not one or holds anything else."""
    try:
        with os.scandir(folder) as entries:
            listed = list(entries)
        if not all(entry.is_file(follow_symlinks=False) for entry in listed):
            return None
    except OSError:
        return None
    names = {entry.name for entry in listed}
    if RUN_MARKER in names:
        stem = _marked_notebook(folder / RUN_MARKER, report, folder.name)
        runs_files = [run_file_names(stem) | {RUN_MARKER}] if stem else []
    elif RUN_NAME_PATTERN.fullmatch(folder.name):  # made before runs were marked: one notebook's run, or empty
        runs_files = [run_file_names(stem) for stem in legacy_stems] or [frozenset()]
    else:
        runs_files = []
    if not any(names <= run_files for run_files in runs_files):
        return None
    return [folder / name for name in sorted(names)]


def _marked_notebook(marker: Path, report: str, run: str) -> str | None:
    """The notebook stem a run marker names, if it is the workbench's marker for this report and this folder."""
    try:
        if marker.stat().st_size > 4096:
            return None
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(content, dict):
        return None
    stem = content.get("notebook")
    expected = {"workbench": RUN_MARKER_WORKBENCH, "report": report, "run": run}
    if any(content.get(key) != value for key, value in expected.items()):
        return None
    if not isinstance(stem, str) or not stem or "/" in stem or stem.startswith("."):
        return None
    return stem


@contextlib.contextmanager
def _job_lock(out_dir: Path, name: str) -> Iterator[bool]:
    lock_dir = out_dir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_due(
    jobs: dict[str, Job],
    config_path: str | os.PathLike[str] | None = None,
    warehouse_path: str | os.PathLike[str] | None = None,
    report: Callable[[JobOutcome], None] | None = None,
) -> list[JobOutcome]:
    """Run every job that is due, one after another; one job's failure never stops the next."""
    outcomes = []
    for job in jobs.values():
        try:
            outcome = run_job(job, config_path, warehouse_path, only_if_due=True)
        except SreError as exc:
            outcome = JobOutcome(job.name, "failed", str(exc))
        if report:
            report(outcome)
        outcomes.append(outcome)
    return outcomes
