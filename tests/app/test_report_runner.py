"""Running notebooks with papermill: offline HTML without code, `latest` only on success, a hard time limit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from sre_lib.app.report_runner import (
    NOTEBOOK_DIR,
    ReportError,
    check_parameters,
    declared_parameters,
    latest,
    parse_parameter,
    render_html,
    run_report,
)
from sre_lib.warehouse.store import Warehouse

FAKE_SECRET = "Report-Fake-Secret-9911"


def write_notebook(folder: Path, name: str, body: str) -> None:
    """A report notebook: a tagged parameters cell, then ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "sre-workbench", "language": "python", "display_name": "SRE"}
    notebook.metadata["language_info"] = {"name": "python"}
    parameters = nbformat.v4.new_code_cell('warehouse = ""\nconfig = ""\nwindow_days = 30')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(body)]
    nbformat.write(notebook, folder / name)


GOOD = """# CODE-SENTINEL: this line must not reach the HTML
import os
import altair as alt
import pandas as pd
from IPython.display import Markdown, display
from sre_lib.reviews.charts import show
display(Markdown(f"window is **{window_days} days**; password set: {'PGPASSWORD' in os.environ}"))
show(alt.Chart(pd.DataFrame({"x": [1, 2, 3], "y": [3, 1, 2]})).mark_line().encode(x="x", y="y"))
"""


@pytest.fixture(autouse=True)
def empty_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """These notebooks read nothing, but a report needs a warehouse to exist: an empty one, via SRE_WAREHOUSE."""
    warehouse = Warehouse(tmp_path / "empty.duckdb")
    warehouse.ensure_created()
    monkeypatch.setenv("SRE_WAREHOUSE", str(warehouse.path))
    return warehouse.path


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    write_notebook(folder, "capacity.ipynb", GOOD)
    return folder


def test_a_good_run_renders_offline_html_without_code_and_moves_latest(
    notebooks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", FAKE_SECRET)
    run = run_report(
        "capacity", out_dir=tmp_path / "out", parameters={"window_days": 14}, notebook=notebooks / "capacity.ipynb"
    )
    assert run.status == "ok"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}_\d{4}", run.directory.name)
    html = run.html.read_text()
    assert "window is <strong>14 days</strong>; password set: True" in html
    assert "data:image/svg+xml;base64," in html and "CODE-SENTINEL" not in html
    assert not re.search(r"<script[^>]+src=", html), "no external script"
    assert not re.search(r"<link[^>]+href=[\"']https?:", html), "no external stylesheet"
    for path in run.directory.iterdir():
        assert FAKE_SECRET not in path.read_text(errors="ignore"), path
    assert latest("capacity", tmp_path / "out") == run.directory
    status = json.loads((run.directory / "status.json").read_text())
    assert status["status"] == "ok" and status["parameters"]["window_days"] == 14


def test_a_failed_run_is_kept_marked_and_latest_stays(notebooks: Path, tmp_path: Path) -> None:
    write_notebook(notebooks, "capacity.ipynb", "print('a good run')")  # no charts: what matters is the runner
    good = run_report("capacity", out_dir=tmp_path / "out", notebook=notebooks / "capacity.ipynb")
    write_notebook(notebooks, "capacity.ipynb", "raise RuntimeError('warehouse is empty')")
    with pytest.raises(ReportError, match=r"RuntimeError: warehouse is empty") as raised:
        run_report("capacity", out_dir=tmp_path / "out", notebook=notebooks / "capacity.ipynb")
    assert "kept in" in str(raised.value)
    failed = [p for p in (tmp_path / "out" / "capacity").iterdir() if (p / "FAILED").exists()]
    assert len(failed) == 1 and (failed[0] / "capacity.ipynb").exists()
    assert json.loads((failed[0] / "status.json").read_text())["status"] == "failed"
    assert latest("capacity", tmp_path / "out") == good.directory


def test_a_hung_notebook_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb", "dr_readiness.ipynb", "import time\ntime.sleep(600)")
    with pytest.raises(ReportError, match=r"wall-clock limit of 5 s"):
        run_report(
            "dr", out_dir=tmp_path / "out", notebook=tmp_path / "nb" / "dr_readiness.ipynb", time_limit_seconds=5
        )
    assert latest("dr", tmp_path / "out") is None


def test_secrets_are_refused_as_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ReportError, match="looks like a secret"):
        check_parameters({"pg_password": "x"})
    with pytest.raises(ReportError, match="looks like a secret"):
        check_parameters({"pgpass_file": "x"})
    with pytest.raises(ReportError, match="carries a password"):
        check_parameters({"source": "postgresql://u:hunter2@db/x"})
    with pytest.raises(ReportError, match="parameter 'sources' carries a password"):
        check_parameters({"sources": ["a", {"db": "postgresql://u:hunter2@db/x"}]})  # nested
    monkeypatch.setenv("PGPASSWORD", FAKE_SECRET)
    with pytest.raises(ReportError, match="parameter 'note' carries a password"):
        check_parameters({"note": f"see {FAKE_SECRET}"})  # the environment's own secret, however it is dressed
    monkeypatch.setenv("SRE_PROMETHEUS_URL", "http://monitor:S3cret-url@prom:9090")
    with pytest.raises(ReportError, match="carries a password"):
        check_parameters({"tags": ["x", "S3cret-url"]})
    check_parameters({"window_days": 30, "warehouse": "/data/w.duckdb", "components": ["app", "redis"]})
    for name in ("pg_pass", "db_pass", "credentials", "private_key", "bearer", "auth", "DB_PWD"):
        with pytest.raises(ReportError, match=rf"parameter '{name}' looks like a secret"):
            check_parameters({name: "x"})
    with pytest.raises(ReportError, match=r"parameter 'opts' looks like a secret \('password'\)"):
        check_parameters({"opts": {"password": "NestedSecret9"}})  # a mapping's keys too, however deep
    with pytest.raises(ReportError, match=r"\('api_token'\)"):
        check_parameters({"opts": [{"x": {"api_token": "t"}}]})


def test_declared_parameters_are_read_as_papermill_reads_them(tmp_path: Path) -> None:
    import papermill

    for notebook in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        inspected = {name: spec["default"] for name, spec in papermill.inspect_notebook(str(notebook)).items()}
        assert declared_parameters(notebook) == inspected, notebook.name
    cell = nbformat.v4.new_code_cell(
        'import os\nwindow: int = 7\nlabel = "a"  # text\nx = y = 2.5\nhint: str\nprint(1)'
    )
    cell.metadata["tags"] = ["parameters"]
    odd = nbformat.v4.new_notebook(cells=[cell])
    nbformat.write(odd, tmp_path / "odd.ipynb")
    assert declared_parameters(tmp_path / "odd.ipynb") == {"window": "7", "label": '"a"', "x": "2.5", "y": "2.5"}


def test_parameters_are_checked_against_the_notebooks_own_cell() -> None:
    """A typo would silently leave the default in place; a wrong type would fail deep inside the notebook."""
    capacity = NOTEBOOK_DIR / "capacity.ipynb"
    check_parameters({"window_days": 14, "horizon_days": 30, "as_of": "2026-10-01", "components": ["app"]}, capacity)
    with pytest.raises(ReportError, match=r"parameter 'window_day': not a parameter of capacity\.ipynb; expected one "
                       r"of warehouse, config, as_of, window, window_days, horizon_days, components"):  # fmt: skip
        check_parameters({"window_day": 7}, capacity)
    for value in ("abc", 7.5, True):
        with pytest.raises(ReportError, match=r"parameter 'window_days' of capacity\.ipynb: expected a whole number "
                           r"like its default 30, got"):  # fmt: skip
            check_parameters({"window_days": value}, capacity)
    with pytest.raises(ReportError, match=r"parameter .horizon_days. of capacity\.ipynb: expected 1 to 730, got 1"):
        check_parameters({"horizon_days": 100_000}, capacity)


def test_a_non_positive_time_limit_is_a_usage_error_and_makes_no_run(notebooks: Path, tmp_path: Path) -> None:
    for limit in (0, -1):
        with pytest.raises(ReportError, match=r"time limit: expected a positive number of seconds"):
            run_report("capacity", out_dir=tmp_path / "out", notebook=notebooks / "capacity.ipynb",
                       time_limit_seconds=limit)  # fmt: skip
    assert not (tmp_path / "out").exists()


_INTERRUPTED = """
import signal, sys
from pathlib import Path
from sre_lib.app.cli import _raise_interrupt
from sre_lib.app.report_runner import run_report
signal.signal(signal.SIGTERM, _raise_interrupt)  # as `sre` does
run_report("dr", out_dir=sys.argv[1], notebook=Path(sys.argv[2]), time_limit_seconds=300)
"""


def test_a_report_stopped_by_sigterm_stops_papermill_and_is_marked_failed(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    write_notebook(tmp_path / "nb", "dr_readiness.ipynb", "import time\ntime.sleep(600)")
    out = tmp_path / "out"
    notebook = tmp_path / "nb" / "dr_readiness.ipynb"
    child = subprocess.Popen([sys.executable, "-c", _INTERRUPTED, str(out), str(notebook)], stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(out.glob("dr/*/dr_readiness.ipynb")) and time.monotonic() < deadline:
        time.sleep(0.2)  # papermill writes the output notebook as soon as the kernel starts
    (run_dir,) = [path for path in (out / "dr").iterdir() if path.is_dir()]
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode != 0 and "KeyboardInterrupt" in stderr
    assert "interrupted (KeyboardInterrupt)" in (run_dir / "FAILED").read_text()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"
    assert latest("dr", out) is None
    papermill = subprocess.run(["pgrep", "-f", str(run_dir)], capture_output=True, text=True)
    assert papermill.stdout.strip() == "", "papermill still running after its caller was stopped"


def test_parameters_from_the_command_line_are_typed() -> None:
    assert parse_parameter("window_days=14") == ("window_days", 14)
    assert parse_parameter("components=[app, redis]") == ("components", ["app", "redis"])
    assert parse_parameter("as_of=2026-10-01T00:00") == ("as_of", "2026-10-01T00:00")
    with pytest.raises(ReportError, match="expected key=value"):
        parse_parameter("window_days")


def test_html_escapes_statement_text_shown_through_dataframes(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x")]
    frame_html = '<table class="dataframe"><tr><td>&lt;script&gt;alert(1)&lt;/script&gt;</td></tr></table>'
    notebook.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"text/html": frame_html})]
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    html = render_html(path, tmp_path / "n.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


def test_a_missing_warehouse_is_refused_before_any_run(tmp_path: Path) -> None:
    from sre_lib.errors import WarehouseError

    with pytest.raises(WarehouseError, match=r"does not exist: build the demo"):
        run_report("capacity", warehouse=tmp_path / "none.duckdb", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
