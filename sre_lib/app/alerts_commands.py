"""`sre alerts generate`: Prometheus rule files and their promtool unit tests, from the platform config."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from sre_lib.errors import SreError

__all__ = ["DEFAULT_OUT", "add_alerts_parser", "promtool_check"]

DEFAULT_OUT = "alerts"  # in the workbench home, like reports/
PROMTOOL_TIMEOUT_SECONDS = 120.0


def add_alerts_parser(commands: argparse._SubParsersAction) -> None:
    """Add `sre alerts generate` to the `sre` parser."""
    alerts = commands.add_parser("alerts", help="Prometheus alerting rules generated from the config")
    actions = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    generate = actions.add_parser(
        "generate",
        help="write recording and alerting rules (YAML) and their promtool unit tests",
        description="Write sre-recording.rules.yml, sre-alerts.rules.yml and sre-alerts.tests.yml from the "
        "config's bands, catalogue, [redis], [slos] and [alerts]. Point Prometheus's rule_files at the first two.",
    )
    generate.add_argument(
        "--config", help="platform config TOML (default: $SRE_CONFIG, else data/platform.toml, else the shipped one)"
    )
    generate.add_argument("--out", help=f"output directory (default: {DEFAULT_OUT}/ in the workbench home)")
    generate.add_argument(
        "--check", action="store_true", help="then run `promtool check rules` and `promtool test rules` on them"
    )
    generate.set_defaults(handler=_cmd_generate)


def promtool_check(folder: Path, promtool: str = "promtool") -> None:
    """Run promtool's check and unit tests on generated files; SreError with promtool's words if either fails."""
    from sre_lib.analysis.alerts.rule_files import ALERTS_FILE, HOURLY_TESTS_FILE, RECORDING_FILE, TESTS_FILE

    found = shutil.which(promtool)
    if found is None:
        raise SreError(f"{promtool}: not found on PATH: expected Prometheus's promtool (Debian package prometheus)")
    tests = [name for name in (TESTS_FILE, HOURLY_TESTS_FILE) if (folder / name).exists()]
    for action in (["check", "rules", RECORDING_FILE, ALERTS_FILE], ["test", "rules", *tests]):
        try:
            done = subprocess.run(
                [found, *action], cwd=folder, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            waited = f"no answer in {PROMTOOL_TIMEOUT_SECONDS:g} s"
            raise SreError(f"promtool {' '.join(action[:2])} in {folder}: {waited}") from None
        if done.returncode != 0:
            said = " ".join((done.stdout + done.stderr).split())[:2000]
            raise SreError(f"promtool {' '.join(action[:2])} in {folder}: failed: {said}")


def _cmd_generate(args: argparse.Namespace) -> int:
    from sre_lib.analysis.alerts.rule_files import alert_groups, recording_groups, write_rule_files
    from sre_lib.config import PROJECT_ROOT, load_config

    config = load_config(args.config)
    out = Path(args.out) if args.out else PROJECT_ROOT / DEFAULT_OUT
    try:
        written = write_rule_files(config, out)
    except OSError as exc:
        raise SreError(f"{out}: cannot write the rule files ({exc.strerror}): expected a writable folder") from None
    recorded = sum(len(rules) for rules in recording_groups(config).values())
    alerting = sum(len(rules) for rules in alert_groups(config).values())
    print(f"{recorded} recording and {alerting} alerting rules from {config.source}:")
    for path in written:
        print(f"  {path}")
    if args.check:
        promtool_check(out)
        print("promtool check rules and promtool test rules: passed")
    return 0
