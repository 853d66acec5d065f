"""`sre hub up|down|fault`: the Community Hub on loopback, from the command line (see sre_lib.hub)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

__all__ = ["add_hub_parser"]

LOAD_SECONDS = 3600.0  # the ramp of `sre hub up`: an hour from 2 to 20 requests a second, at most 40,000
LOAD_START_RPS = 2.0
LOAD_END_RPS = 20.0
LOAD_MAX_REQUESTS = 40_000


def add_hub_parser(commands: argparse._SubParsersAction) -> None:
    """Add `sre hub` with its three actions to the `sre` parser."""
    from sre_lib.hub.hub_faults import FAULTS

    hub = commands.add_parser("hub", help="the Community Hub platform on loopback: up, down, fault")
    actions = hub.add_subparsers(dest="hub_command", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start the whole platform in the foreground; Ctrl-C stops all of it")
    _add_dir(up)
    up.add_argument("--base-port", type=int, default=0, help="first of the hub's ports (default 0: free ports)")
    up.add_argument("--cert-days", type=int, default=90, help="validity of the TLS certificate in days (default 90)")
    up.add_argument(
        "--load", action=argparse.BooleanOptionalAction, default=True,
        help=f"run the load generator, {LOAD_START_RPS:g} to {LOAD_END_RPS:g} requests/s over an hour (default on)",
    )  # fmt: skip
    up.set_defaults(handler=_cmd_up)
    down = actions.add_parser("down", help="stop whatever a crashed `sre hub up` left running in --dir")
    _add_dir(down)
    down.set_defaults(handler=_cmd_down)
    fault = actions.add_parser("fault", help="inject or mend a fault in the running hub")
    fault.add_argument("name", choices=list(FAULTS))
    _add_dir(fault)
    fault.set_defaults(handler=_cmd_fault)


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", help="the hub's state folder (default: $SRE_HUB_DIR, else /tmp/sre-hub-<uid>)")


def _state_dir(args: argparse.Namespace) -> Path:
    from sre_lib.hub.hub_platform import default_state_dir

    return Path(args.dir).absolute() if args.dir else default_state_dir()


def _cmd_up(args: argparse.Namespace) -> int:
    from sre_lib.hub.hub_platform import Hub

    folder = _state_dir(args)
    print(f"starting the Community Hub in {folder}", file=sys.stderr, flush=True)
    started = time.monotonic()
    hub = Hub.start(folder, base_port=args.base_port, cert_days=args.cert_days,
                    progress=lambda line: print(line, file=sys.stderr, flush=True))  # fmt: skip
    try:
        print(f"hub up in {time.monotonic() - started:.0f} s; services:")
        for name, port in hub.services():
            print(f"  {name:<28} {f'127.0.0.1:{port}' if port else ''}")
        print(f"  {'https (through nginx)':<28} {hub.https_url}")
        print(f"  {'prometheus':<28} {hub.prometheus_url}")
        if hub.media_mount is None:
            print(f"  media volume not mounted ({hub.media_note}): media reads 'not monitored'")
        print(
            f"\nin another shell:\n  source {hub.env_path}\n  sre collect all --since 15m --step 15s\n"
            "  sre report capacity -p window=30m\n  sre report slow-queries -p window=5m -p baseline=30m\n"
            f"  sre report dr\n  sre hub fault stop-app --dir {folder}   # and the other faults\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        stop = threading.Event()
        if args.load:
            threading.Thread(target=_load, args=(hub, stop), name="hub-load", daemon=True).start()
        _watch(hub)
    finally:
        print("stopping the hub ...", file=sys.stderr, flush=True)
        if args.load:
            stop.set()
        hub.stop()
        print("hub stopped: every process it started has ended", file=sys.stderr, flush=True)
    return 0


def _load(hub: object, stop: threading.Event) -> None:
    try:
        hub.run_load(LOAD_SECONDS, LOAD_START_RPS, LOAD_END_RPS, LOAD_MAX_REQUESTS, stop=stop)  # type: ignore[attr-defined]
        print("load generator done (its summary is the line above)", file=sys.stderr, flush=True)
    except Exception as exc:  # the platform stays up for the user even if the load stops
        print(f"sre: warning: load generator stopped: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def _watch(hub: object) -> None:
    """Wait until interrupted, saying once when a service exits (a fault stops some on purpose)."""
    told: set[str] = set()
    while True:
        for child in list(hub.supervisor.children):  # type: ignore[attr-defined]
            if not child.running() and child.name not in told:
                told.add(child.name)
                print(f"service {child.name} exited (code {child.process.returncode})", file=sys.stderr, flush=True)
        time.sleep(1)


def _cmd_down(args: argparse.Namespace) -> int:
    from sre_lib.hub.hub_platform import stop_leftovers

    folder = _state_dir(args)
    ended = stop_leftovers(folder)
    print(f"ended: {', '.join(ended)}" if ended else f"nothing of a hub was running in {folder}")
    return 0


def _cmd_fault(args: argparse.Namespace) -> int:
    from sre_lib.hub.hub_faults import RunningHub, apply_fault

    print(apply_fault(RunningHub.open(_state_dir(args)), args.name))
    return 0
