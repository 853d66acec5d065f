"""Running report notebooks with papermill and rendering them as offline HTML without code.

A run goes to ``<out>/<report>/<YYYY-MM-DD_HHMM>/`` (platform local time): the executed notebook (the record),
the HTML, ``status.json``, and the marker ``.sre-run.json`` by which job pruning knows a folder it may delete.
papermill runs in a child process with a wall-clock limit, so a hung kernel cannot hang the job: on timeout
the whole process group is killed. Only a successful run moves the ``<out>/<report>/latest`` pointer; a failed
run keeps its directory (with ``FAILED`` and the error) for debugging, and the previous good report stays where
readers find it.

Parameters are written into the output notebook by papermill, so they carry paths and windows, never
secrets: anything secret reaches collectors through the environment, and notebooks need none.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sre_lib.config import PROJECT_ROOT, load_config, resolve_config_path
from sre_lib.errors import ReportError
from sre_lib.locations import shipped_path
from sre_lib.secrets import environment_secrets, redact
from sre_lib.warehouse.store import Warehouse, resolve_warehouse_path

NOTEBOOK_DIR = shipped_path("notebooks")  # the checkout's, or the copy inside the installed package
DEFAULT_OUT_DIR = PROJECT_ROOT / "reports"  # under the workbench home ($SRE_HOME, checkout or current folder)
KERNEL_NAME = "sre-workbench"
DEFAULT_TIME_LIMIT_SECONDS = 900
REPORTS: dict[str, str] = {
    "capacity": "capacity.ipynb",
    "slow-queries": "slow_queries.ipynb",
    "dr": "dr_readiness.ipynb",
}
_SECRET_PARAMETER_WORDS = (  # anywhere in a name
    "password", "secret", "token", "dsn", "passwd", "pgpass", "apikey", "api_key", "credential", "private_key",
    "bearer",
)  # fmt: skip
_SECRET_PARAMETER_PARTS = frozenset({"pass", "pwd", "pw", "auth", "authorization", "key"})  # as a whole part: db_pass


@dataclass(frozen=True)
class ReportRun:
    report: str
    status: str  # "ok" or "failed"
    directory: Path
    notebook: Path
    html: Path | None
    seconds: float
    error: str | None = None

    def __str__(self) -> str:
        where = self.html if self.html else self.directory
        return f"{self.report} report {self.status} in {self.seconds:.1f} s: {where}"


def ensure_kernel() -> str:
    """Install (once) a kernelspec named KERNEL_NAME that runs this very interpreter, with sre_lib on it."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if spec.argv and spec.argv[0] == sys.executable:
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name="SRE workbench", prefix=sys.prefix)
    return KERNEL_NAME


def check_parameters(parameters: Mapping[str, Any], notebook: str | os.PathLike[str] | None = None) -> None:
    """Refuse parameters that look like secrets: papermill would write them into the output notebook. Names
    (and the keys of mapping values) are checked for secret-like words, and every text value, nested in lists
    and mappings too, for a password or the value of a secret environment variable. Given the ``notebook``,
    also refuse a name its parameters cell does not define (a typo would silently leave the default) and a
    value of another type than a number or text default."""
    known = environment_secrets()
    for key, value in parameters.items():
        secret_like = [name for name in (key, *_keys(value)) if _looks_secret(name)]
        if secret_like:
            raise ReportError(
                f"parameter {key!r} looks like a secret ({secret_like[0]!r}); papermill writes parameters into the "
                "report, so secrets must come from the environment"
            )
        if any(redact(text, known) != text for text in _texts(value)):
            raise ReportError(f"parameter {key!r} carries a password; pass secrets through the environment")
    if notebook is not None:
        _check_declared(parameters, Path(notebook))


def _looks_secret(name: str) -> bool:
    lowered = name.lower()
    parts = set(re.split(r"[^a-z0-9]+", lowered))
    return any(word in lowered for word in _SECRET_PARAMETER_WORDS) or bool(parts & _SECRET_PARAMETER_PARTS)


def _keys(value: Any) -> list[str]:
    """Every mapping key inside a parameter value, however deep."""
    if isinstance(value, Mapping):
        return [str(key) for key in value] + [key for item in value.values() for key in _keys(item)]
    if isinstance(value, (list, tuple, set)):
        return [key for item in value for key in _keys(item)]
    return []


def declared_parameters(notebook: Path) -> dict[str, str]:
    """The names the notebook's ``parameters`` cell assigns, each with the source text of its default.

    Read with json and ast, as papermill reads a Python parameters cell: importing papermill takes over a
    second, which every ``sre jobs run --due`` would pay for checking its job files.
    """
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReportError(f"report notebook {notebook}: cannot be read as a notebook ({type(exc).__name__})") from None
    for cell in cells:
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell.get("source", []))
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise ReportError(f"report notebook {notebook}: its parameters cell is not Python: {exc.msg}") from None
        declared: dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue  # imports, comments' neighbours, bare annotations: not parameters
            for target in targets:
                if isinstance(target, ast.Name):
                    declared[target.id] = ast.get_source_segment(source, value) or ""
        return declared
    return {}


def _check_declared(parameters: Mapping[str, Any], notebook: Path) -> None:
    """Each parameter is one the notebook's parameters cell defines, of the type of its number or text default."""
    declared = declared_parameters(notebook)
    for key, value in parameters.items():
        if key not in declared:
            raise ReportError(
                f"parameter {key!r}: not a parameter of {notebook.name}; expected one of {', '.join(declared)}"
            )
        try:
            default = ast.literal_eval(declared[key])
        except (ValueError, SyntaxError):
            continue  # an expression: no type to hold the value to
        expected = _EXPECTED_TYPES.get(type(default))
        if expected and (isinstance(value, bool) or not isinstance(value, expected[0])):
            raise ReportError(
                f"parameter {key!r} of {notebook.name}: expected {expected[1]} like its default "
                f"{declared[key]}, got {value!r}"
            )
        low, high = PARAMETER_RANGES.get(key, (None, None))
        if low is not None and isinstance(value, (int, float)) and not low <= value <= high:
            raise ReportError(f"parameter {key!r} of {notebook.name}: expected {low} to {high}, got {value!r}")


#: Bounds of the numeric report parameters: beyond them a report says nothing more, only takes longer (a
#: 100,000-day horizon ran into Altair's row limit).
PARAMETER_RANGES: dict[str, tuple[int, int]] = {
    "window_days": (1, 366),
    "baseline_days": (1, 366),
    "horizon_days": (1, 730),
    "top": (1, 200),
}


_EXPECTED_TYPES: dict[type, tuple[tuple[type, ...], str]] = {
    int: ((int,), "a whole number"),
    float: ((int, float), "a number"),
    str: ((str,), "text"),
}


def _texts(value: Any) -> list[str]:
    """Every string inside a parameter value (keys and values of mappings, items of lists)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for pair in value.items() for item in pair for text in _texts(item)]
    if isinstance(value, (list, tuple, set)):
        return [text for item in value for text in _texts(item)]
    return []


def parse_parameter(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; the value is read as YAML (numbers, booleans, lists)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise ReportError(f"-p {text!r}: expected key=value with a Python identifier as key")
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def run_report(
    report: str,
    warehouse: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS,
    notebook: str | os.PathLike[str] | None = None,
) -> ReportRun:
    """Execute a report notebook and render its HTML. Raises ReportError (after recording it) on failure."""
    if report not in REPORTS:
        raise ReportError(f"unknown report {report!r}: expected one of {', '.join(REPORTS)}")
    if not time_limit_seconds > 0:
        raise ReportError(f"report time limit: expected a positive number of seconds, got {time_limit_seconds!r}")
    platform = load_config(config)
    params = {
        "warehouse": str(resolve_warehouse_path(warehouse).resolve()),
        "config": str(resolve_config_path(config).resolve()),
        **(parameters or {}),
    }
    source = Path(notebook) if notebook else NOTEBOOK_DIR / REPORTS[report]
    if not source.exists():
        raise ReportError(f"report notebook {source} is missing", report=report)
    check_parameters(params, source)
    Warehouse(params["warehouse"]).current_snapshot()  # a missing warehouse is a user error, not a failed run
    root = Path(out_dir or DEFAULT_OUT_DIR) / report
    directory = _new_run_directory(root, datetime.now(platform.tz), source.stem)
    executed = directory / f"{source.stem}.ipynb"
    started = time.perf_counter()
    try:
        error = _execute(source, executed, params, time_limit_seconds)
    except BaseException as exc:  # Ctrl-C, SIGTERM: papermill is gone (see _execute); mark the run, re-raise
        reason = f"interrupted ({type(exc).__name__}) after {time.perf_counter() - started:.0f} s"
        _write_status(directory, "failed", reason, params, time.perf_counter() - started)
        (directory / "FAILED").write_text(reason + "\n", encoding="utf-8")
        raise
    html = None
    if error is None:
        try:
            html = render_html(
                executed, directory / f"{source.stem}.html", title=_title(report, platform.platform.name)
            )
        except Exception as exc:  # rendering failures must not move `latest` either
            error = f"rendering HTML failed: {type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    status = "ok" if error is None else "failed"
    _write_status(directory, status, error, params, seconds)
    run = ReportRun(report, status, directory, executed, html, seconds, error)
    if error is not None:
        (directory / "FAILED").write_text(error + "\n", encoding="utf-8")
        raise ReportError(
            f"{report} report failed (kept in {directory}): {error}", report=report, run_dir=str(directory)
        )
    _point_latest(root, directory)
    return run


def latest(report: str, out_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The directory of the latest successful run of a report, if any."""
    pointer = Path(out_dir or DEFAULT_OUT_DIR) / report / "latest"
    return pointer.resolve() if pointer.exists() else None


def render_html(notebook: Path, target: Path, title: str | None = None) -> Path:
    """Render an executed notebook to self-contained HTML: outputs only, no code, nothing from a network."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        extra_template_basedirs=[str(Path(__file__).parent / "templates")],
        template_name="offline",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    node = nbformat.read(notebook, as_version=4)
    if title:
        node.metadata["title"] = title
    body, _resources = exporter.from_notebook_node(node)
    partial = target.with_suffix(".html.partial")
    partial.write_text(body, encoding="utf-8")
    os.replace(partial, target)
    return target


def _title(report: str, platform_name: str) -> str:
    names = {"capacity": "Capacity report", "slow-queries": "Slow queries report", "dr": "DR readiness report"}
    return f"{names[report]} · {platform_name}"


#: The file that marks a folder as a run the workbench made: job pruning deletes only such folders.
RUN_MARKER = ".sre-run.json"
RUN_MARKER_WORKBENCH = "sre-workbench"
RUN_NAME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}_\d{4}(_\d{1,3})?")


def run_file_names(notebook_stem: str) -> frozenset[str]:
    """Every file a run of that notebook may write into its folder (the marker aside)."""
    return frozenset(
        {"status.json", "FAILED", f"{notebook_stem}.ipynb", f"{notebook_stem}.html", f"{notebook_stem}.html.partial"}
    )


def _new_run_directory(root: Path, now: datetime, notebook_stem: str) -> Path:
    """A fresh ``<root>/<YYYY-MM-DD_HHMM>[_n]`` folder, marked as this workbench's run of ``root.name``."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y-%m-%d_%H%M")
    for attempt in range(1, 1000):
        candidate = root / (stamp if attempt == 1 else f"{stamp}_{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        marker = {"workbench": RUN_MARKER_WORKBENCH, "report": root.name, "run": candidate.name,
                  "notebook": notebook_stem, "created_at": datetime.now(UTC).isoformat()}  # fmt: skip
        (candidate / RUN_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        return candidate
    raise ReportError(f"cannot create a run directory under {root}")


def _execute(source: Path, output: Path, parameters: Mapping[str, Any], time_limit: float) -> str | None:
    """Run papermill in its own process group; return None on success or a one-line error."""
    kernel = ensure_kernel()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(dict(parameters), handle)
        params_file = handle.name
    argv = [
        sys.executable, "-m", "papermill", str(source), str(output), "-f", params_file, "-k", kernel,
        "--cwd", str(source.parent), "--execution-timeout", str(int(time_limit) + 60), "--no-progress-bar",
        "--log-level", "WARNING",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _stdout, stderr = process.communicate(timeout=time_limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return f"exceeded the wall-clock limit of {time_limit:.0f} s; the kernel was killed"
    except BaseException:  # interrupted: papermill must not finish the run unwatched (its kernel follows it)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    finally:
        Path(params_file).unlink(missing_ok=True)
    if process.returncode != 0:
        return _papermill_error(stderr, output)
    return None


def _papermill_error(stderr: str, output: Path) -> str:
    """The exception a failed cell raised, from the output notebook, else the last line papermill printed."""
    try:
        node = json.loads(output.read_text(encoding="utf-8"))
        for cell in node.get("cells", []):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("ename") != "PapermillExecutionError":
                    return redact(f"{out.get('ename')}: {out.get('evalue')}")
    except (OSError, ValueError):
        pass
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return redact(lines[-1] if lines else "papermill failed without a message")


def _write_status(directory: Path, status: str, error: str | None, params: Mapping[str, Any], seconds: float) -> None:
    record = {
        "status": status,
        "error": error,
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": round(seconds, 2),
        "parameters": dict(params),
    }
    (directory / "status.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


def _point_latest(root: Path, directory: Path) -> None:
    """Atomically repoint ``root/latest`` at a successful run (a relative symlink, so the tree can move)."""
    temporary = root / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(directory.name)
    os.replace(temporary, root / "latest")
