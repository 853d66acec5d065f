"""Benchmark: render each report on the demo warehouse. Targets: capacity under 30 s, every HTML under 5 MB.

Prints, per report, the wall time of the whole run (papermill in a child process plus HTML rendering), the
HTML size, and the ratio to a baseline measured in the same run: papermill executing an empty notebook with
the same kernel (the fixed cost of starting a kernel), so the figure that matters is the report's own work.

    .venv/bin/python benchmarks/bench_reports.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from sre_lib.app.report_runner import REPORTS, run_report
from sre_lib.demo.build import build_demo

CAPACITY_TARGET_SECONDS = 30.0
HTML_TARGET_BYTES = 5_000_000


def _empty_notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "sre-workbench", "language": "python", "display_name": "SRE"}
    cell = nbformat.v4.new_code_cell("warehouse = None\nconfig = None")
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = [cell]
    path = folder / "empty.ipynb"
    nbformat.write(notebook, path)
    return path


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        warehouse = folder / "warehouse.duckdb"
        build_demo(warehouse)
        started = time.perf_counter()
        run_report("dr", warehouse=warehouse, out_dir=folder / "baseline", notebook=_empty_notebook(folder))
        baseline = time.perf_counter() - started
        print(f"baseline (kernel start + empty notebook + render): {baseline:6.2f} s")
        ok = True
        for report in REPORTS:
            started = time.perf_counter()
            run = run_report(report, warehouse=warehouse, out_dir=folder / "out")
            seconds = time.perf_counter() - started
            size = run.html.stat().st_size
            print(f"{report:<13} {seconds:6.2f} s  ({seconds / baseline:4.1f}x baseline)  HTML {size / 1e6:5.2f} MB")
            ok &= size < HTML_TARGET_BYTES and (report != "capacity" or seconds < CAPACITY_TARGET_SECONDS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB here, {children:.0f} MB in the largest child (papermill + kernel)")
    print(f"targets: capacity < {CAPACITY_TARGET_SECONDS:.0f} s, HTML < 5 MB: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
