"""The ``sre`` command. Each subcommand is a thin wrapper over a library call.

On an expected failure (bad config, busy warehouse, bad input) it prints one line to stderr and exits 1,
without a traceback; argparse usage errors exit 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from sre_lib.config import load_config, resolve_config_path
from sre_lib.durations import parse_duration
from sre_lib.errors import SreError
from sre_lib.secrets import redact
from sre_lib.warehouse.store import Warehouse, scalar


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help="platform config TOML (default: $SRE_CONFIG, else data/platform.toml in the workbench home if there, "
        "else the shipped default)",
    )
    parser.add_argument(
        "--warehouse",
        help="DuckDB warehouse file (default: $SRE_WAREHOUSE, else data/warehouse.duckdb in the workbench home: "
        "$SRE_HOME, else the checkout, else the current folder)",
    )


DEMO_MAX_DAYS = 366  # a year of minute samples takes about 3 GB to build; more is no better a demo
DEMO_YEARS = (1971, 2200)


def _parse_day(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO date such as 2026-11-01, got {text!r}") from None
    if not DEMO_YEARS[0] <= value.year <= DEMO_YEARS[1]:  # pandas' nanosecond times end in 2262
        raise argparse.ArgumentTypeError(f"expected a date from {DEMO_YEARS[0]} to {DEMO_YEARS[1]}, got {text!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sre",
        description="SRE workbench: capacity, slow queries and DR readiness from Prometheus, PostgreSQL and Redis.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="build the demo warehouse from synthetic Community Hub data")
    _add_common(demo)
    demo.add_argument("--end", type=_parse_day, help="last instant of the demo span (default 2026-11-01 UTC)")
    demo.add_argument("--days", type=int, default=90, help="length of the demo span in days (default 90)")
    demo.add_argument("--seed", type=int, help="random seed (same seed, same data)")
    demo.add_argument("--no-reports", action="store_true", help="only build the warehouse, render no report")
    demo.add_argument("--out", help="where the reports go (default: reports/ in $SRE_HOME, the checkout or here)")
    demo.set_defaults(handler=_cmd_demo)

    config = commands.add_parser("config", help="platform configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="validate a config file and summarise it")
    check.add_argument("path", nargs="?", help="config file (default: as for --config of the other commands)")
    check.set_defaults(handler=_cmd_config_check)

    collect = commands.add_parser(
        "collect",
        help="collect from Prometheus, PostgreSQL, Redis or pgBackRest into the warehouse",
        description="Collect into the warehouse. Connection settings come from [sources] in the config, "
        "overridden by SRE_PROMETHEUS_URL, SRE_PG_DSN or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, SRE_REDIS_URL.",
    )
    collect.add_argument("source", choices=["prometheus", "postgres", "redis", "backups", "all"])
    _add_common(collect)
    collect.add_argument("--stanza", help="pgBackRest stanza (backups; default: [sources.pgbackrest] stanza)")
    collect.add_argument("--log", help="CSV log of restore tests and off-site copies (backups; default: restore_log)")
    collect.add_argument("--since", default="1d", help="window ending now, e.g. 6h, 30d (prometheus; default 1d)")
    collect.add_argument("--start", help="window start, ISO time (prometheus; with --end)")
    collect.add_argument("--end", help="window end, ISO time or 'now' (prometheus)")
    collect.add_argument("--step", default="1m", help="resolution of range queries (prometheus; default 1m)")
    collect.add_argument(
        "--every", help="repeat every interval (e.g. 15m) until interrupted, so pg_stat_statements history accumulates"
    )
    collect.set_defaults(handler=_cmd_collect)

    backups = commands.add_parser(
        "backups", help="load backups (pgbackrest info --output=json) and the off-site/restore-test log"
    )
    backups_commands = backups.add_subparsers(dest="backups_command", required=True, metavar="ACTION")
    load = backups_commands.add_parser("load", help="load backup records into the warehouse (idempotent)")
    _add_common(load)
    load.add_argument("--pgbackrest-json", help="output of `pgbackrest info --output=json` ('-' for stdin)")
    load.add_argument("--log", help="CSV log of off-site copies and restore tests (see sre_lib/collect/backups.py)")
    load.add_argument("--server", help="warehouse server name (default: [sources.postgres].server)")
    load.add_argument("--stanza", help="pgBackRest stanza, when the file holds several")
    load.set_defaults(handler=_cmd_backups_load)

    report = commands.add_parser("report", help="render a report notebook to HTML (capacity, slow-queries, dr)")
    report.add_argument("report", choices=["capacity", "slow-queries", "dr"])
    _add_common(report)
    report.add_argument("--out", help="output directory (default: reports/ in $SRE_HOME, the checkout or here)")
    report.add_argument(
        "-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
        help="notebook parameter, e.g. -p window_days=14 (repeatable; never a secret)",
    )  # fmt: skip
    report.add_argument("--time-limit", type=int, default=900, help="wall-clock limit in seconds (default 900)")
    report.set_defaults(handler=_cmd_report)

    jobs = commands.add_parser("jobs", help="scheduled jobs in papermill_jobs/")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    jobs_list = jobs_commands.add_parser("list", help="each job with its schedule, last and next run")
    _add_common(jobs_list)
    jobs_list.add_argument("--jobs-dir", help="folder of job TOML files (default: papermill_jobs/)")
    jobs_list.set_defaults(handler=_cmd_jobs_list)
    jobs_run = jobs_commands.add_parser("run", help="run a job by name, or every job that is due (--due)")
    _add_common(jobs_run)
    jobs_run.add_argument("name", nargs="?", help="job name (file name without .toml)")
    jobs_run.add_argument("--due", action="store_true", help="run every job due since its last run (for cron)")
    jobs_run.add_argument("--jobs-dir", help="folder of job TOML files (default: papermill_jobs/)")
    jobs_run.set_defaults(handler=_cmd_jobs_run)

    warehouse = commands.add_parser("warehouse", help="inspect the warehouse")
    warehouse_commands = warehouse.add_subparsers(dest="warehouse_command", required=True, metavar="ACTION")
    info = warehouse_commands.add_parser(
        "info", help="tables, row counts, the last collection runs, and a read of every block (exit 1 if damaged)"
    )
    _add_common(info)
    info.set_defaults(handler=_cmd_warehouse_info)

    from sre_lib.app.hub_commands import add_hub_parser

    add_hub_parser(commands)
    from sre_lib.app.alerts_commands import add_alerts_parser

    add_alerts_parser(commands)
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    from sre_lib.demo.build import build_demo
    from sre_lib.demo.spec import DemoSpec

    config = load_config(args.config)
    if not 0 < args.days <= DEMO_MAX_DAYS:
        raise SreError(f"--days: expected a number of days from 1 to {DEMO_MAX_DAYS}, got {args.days}")
    if args.seed is not None and args.seed < 0:
        raise SreError(f"--seed: expected a whole number of 0 or more, got {args.seed}")
    spec_args: dict[str, object] = {"days": args.days, "timezone": config.platform.timezone}
    if args.end:
        spec_args["end"] = args.end
    if args.seed is not None:
        spec_args["seed"] = args.seed
    spec = DemoSpec(**spec_args)  # type: ignore[arg-type]
    started = time.perf_counter()
    summary = build_demo(args.warehouse, spec, progress=lambda msg: print(f"  {msg}", file=sys.stderr))
    elapsed = time.perf_counter() - started
    print(
        f"demo warehouse ready: {summary.warehouse}\n"
        f"  {summary.total_rows:,} rows ({summary.rows_by_table.get('metric_samples', 0):,} metric samples), "
        f"{spec.start:%Y-%m-%d} to {spec.end:%Y-%m-%d}, built in {elapsed:.1f} s"
    )
    if args.no_reports:
        return 0
    from sre_lib.app.report_runner import REPORTS, run_report

    for report in REPORTS:
        print(f"  rendering the {report} report ...", file=sys.stderr)
        run = run_report(report, warehouse=summary.warehouse, config=args.config, out_dir=args.out)
        print(f"{report} report: {run.html}")
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from sre_lib.collect.by_source import collect_once, collection_window

    config = load_config(args.config)
    warehouse = Warehouse(args.warehouse)
    step = parse_duration(args.step, "--step")
    sources = ["prometheus", "postgres", "redis"] if args.source == "all" else [args.source]
    if args.source == "backups" or args.stanza or args.log:
        from sre_lib.collect.pgbackrest_collect import with_pgbackrest

        if args.source not in ("backups", "all"):
            raise SreError(f"collect {args.source}: --stanza and --log are for `sre collect backups`")
        config = with_pgbackrest(config, args.stanza, args.log)
    if args.source == "all" and config.sources.pgbackrest is not None:
        sources.append("backups")  # only where pgBackRest is configured
    every = parse_duration(args.every, "--every") if args.every else None
    failures = 0
    while True:
        start, end = collection_window(args.since, args.start, args.end)
        for source in sources:
            try:
                message = collect_once(source, warehouse, config, start, end, step)
                print(f"{source}: {message}", flush=True)  # cron and systemd logs get it now, not at exit
            except SreError as exc:
                _stop_if_interrupted()
                failures += 1
                print(f"sre: error: {exc}", file=sys.stderr, flush=True)
            except Exception as exc:  # a full disk, a driver error: one line, and the loop goes on
                _stop_if_interrupted()
                if every is None:
                    raise
                failures += 1
                first_line = (str(exc).splitlines() or [""])[0]
                print(f"sre: error: {source}: {type(exc).__name__}: {redact(first_line)}", file=sys.stderr, flush=True)
        if every is None:
            return 1 if failures else 0
        print(f"next collection in {args.every} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        time.sleep(every.total_seconds())


def _cmd_backups_load(args: argparse.Namespace) -> int:
    from sre_lib.collect.backup_records import load_backup_records

    if not (args.pgbackrest_json or args.log):
        raise SreError("backups load: give --pgbackrest-json FILE, --log FILE, or both")
    config = load_config(args.config)
    json_path = args.pgbackrest_json
    if json_path == "-":
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            handle.write(sys.stdin.read())
            json_path = handle.name
    summary = load_backup_records(
        Warehouse(args.warehouse), json_path, args.log, server=args.server or config.sources.postgres.server,
        stanza=args.stanza, timezone=config.platform.timezone,
    )  # fmt: skip
    counts = ", ".join(f"{rows} {table}" for table, rows in summary.rows_by_table.items())
    print(f"loaded {counts or 'nothing'}")
    for note in summary.notes:
        print(f"  note: {note}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from sre_lib.app.report_runner import parse_parameter, run_report

    parameters = dict(parse_parameter(text) for text in args.parameter)
    print(f"running the {args.report} report ...", file=sys.stderr)
    run = run_report(
        args.report, warehouse=args.warehouse, config=args.config, out_dir=args.out, parameters=parameters,
        time_limit_seconds=args.time_limit,
    )  # fmt: skip
    print(run)
    return 0


def _cmd_jobs_list(args: argparse.Namespace) -> int:
    import pandas as pd

    from sre_lib.app.jobs import load_jobs_leniently, schedule_table

    config = load_config(args.config)
    jobs, problems = load_jobs_leniently(args.jobs_dir)  # the good jobs are listed; each bad file is named
    for problem in problems:
        print(f"sre: error: {problem}", file=sys.stderr, flush=True)
    table = schedule_table(jobs, config, Warehouse(args.warehouse), datetime.now(UTC))
    if table.empty:
        print("no jobs")
    for row in table.itertuples():
        last = f"{row.last_run:%Y-%m-%d %H:%M}" if pd.notna(row.last_run) else "never"
        due = "  DUE" if row.due else ""
        upcoming = f"{row.next_run:%Y-%m-%d %H:%M %Z}"
        print(f"{row.job:<22} {row.does:<22} {row.schedule:<14} last {last:<16} next {upcoming}{due}")
    return 1 if problems else 0


def _cmd_jobs_run(args: argparse.Namespace) -> int:
    from sre_lib.app.jobs import job_file, load_job, load_jobs_leniently, run_due, run_job

    if args.due == bool(args.name):
        raise SreError("jobs run: give a job name or --due (not both)")
    if args.due:
        jobs, problems = load_jobs_leniently(args.jobs_dir)
        for problem in problems:  # the other jobs still run
            print(f"sre: error: {problem}", file=sys.stderr, flush=True)
        outcomes = run_due(jobs, args.config, args.warehouse, report=lambda outcome: print(outcome, flush=True))
        if problems:
            return 1
    else:
        jobs, _problems = load_jobs_leniently(args.jobs_dir)  # another job's bad file must not stop this one
        if args.name not in jobs:
            own_file = job_file(args.jobs_dir, args.name)
            if own_file.is_file():
                load_job(own_file)  # raises what is wrong with it
            raise SreError(f"jobs run: no job {args.name!r}; jobs are: {', '.join(sorted(jobs)) or 'none'}")
        outcome = run_job(jobs[args.name], args.config, args.warehouse)
        print(outcome, flush=True)
        return 0 if outcome.status == "ok" else 1  # a job asked for by name that did not run is not a success
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _cmd_config_check(args: argparse.Namespace) -> int:
    path = resolve_config_path(args.path)
    config = load_config(path)
    servers = sum(c.count for c in config.components.values() if c.size)
    print(
        f"OK {path}: {config.platform.name}, {len(config.components)} components ({servers} servers), "
        f"{len(config.indicators)} key indicators, monthly cost {config.monthly_cost():,.2f} "
        f"{config.platform.currency}, time zone {config.platform.timezone}"
    )
    return 0


def _cmd_warehouse_info(args: argparse.Namespace) -> int:
    warehouse = Warehouse(args.warehouse)
    check_started = time.monotonic()
    warehouse.check_intact()  # a damaged file: exit 1 with one line, before a reader warns about it
    check_seconds = time.monotonic() - check_started
    con = warehouse.open_read_only()
    try:
        tables = [
            row[0]
            for row in con.execute("SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()
        ]
        print(f"warehouse {warehouse.path} (reading snapshot {warehouse.current_snapshot().name})")
        for table in tables:
            count = scalar(con, f'SELECT count(*) FROM "{table}"')
            print(f"  {table:<22} {count:>12,}")
        runs = con.execute(
            "SELECT started_at, source, status, rows_written, error FROM collection_runs "
            "ORDER BY started_at DESC LIMIT 5"
        ).fetchall()
    finally:
        con.close()
    print("last runs:")
    for started_at, source, status, rows, error in runs:
        print(f"  {started_at:%Y-%m-%d %H:%M} {source:<10} {status:<6} {rows:>12,} {error or ''}")
    print(f"check: every row of every table read, block checksums match ({check_seconds:.1f} s)")
    return 0


def _configure_logging() -> None:
    """Library warnings (a retry, a skipped series) reach the user as ``sre: warning: ...`` lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("sre: %(levelname)s: %(message)s"))
    logger = logging.getLogger("sre_lib")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    logging.addLevelName(logging.WARNING, "warning")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging()
    _INTERRUPTED.clear()
    # SIGTERM (systemd stop, kill) unwinds like Ctrl-C: a running report stops its papermill and is marked
    # failed, a collection rolls back; the default action would end the process with nothing cleaned up.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, _raise_interrupt)  # Ctrl-C as before, and remembered (see _INTERRUPTED)
    try:
        return int(args.handler(args))
    except SreError as exc:
        print(f"sre: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sre: interrupted", file=sys.stderr)
        return 130


#: Set by a SIGINT or SIGTERM. A library may turn the KeyboardInterrupt into an error of its own (DuckDB's
#: InterruptException, a WarehouseError around it); a loop that goes on past errors checks this instead.
_INTERRUPTED = threading.Event()


def _raise_interrupt(_signum: int, _frame: object) -> None:
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def _stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a signal arrived, even one a library reported as an error."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
