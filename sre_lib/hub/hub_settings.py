"""What the hub tells others: its ports, Prometheus's scrape targets, and the workbench config and env file
that point ``sre`` at it (``<dir>/platform.toml``, ``<dir>/env``; neither holds a secret).
"""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.hub.hub_monitoring import SERVERS, ScrapeTarget
from sre_lib.hub.processes import HubError, free_port, postgres_user

if TYPE_CHECKING:
    from sre_lib.hub.hub_platform import Hub

__all__ = ["PORT_NAMES", "plan_ports", "scrape_targets", "set_toml_keys", "write_env_file", "write_platform_toml"]

#: Every port the hub takes, in the order --base-port numbers them (base, base + 1, ...).
PORT_NAMES: tuple[str, ...] = (
    "nginx-https",
    "nginx-status",
    "app-1",
    "app-2",
    "pg-1",
    "pg-2",
    "restore-test",
    "redis-1",
    "prometheus",
    "blackbox",
    "nginx-exporter",
    "redis-exporter",
    "postgres-exporter pg-1",
    "postgres-exporter pg-2",
    *(f"node-exporter {server}" for server in SERVERS),
)


def plan_ports(base_port: int) -> dict[str, int]:
    """base_port 0: a free port each; else base_port, base_port + 1, ... (HubError if one is taken)."""
    if base_port == 0:
        ports: dict[str, int] = {}
        while len(ports) < len(PORT_NAMES):  # the kernel may hand out a port twice across closed sockets
            port = free_port()
            if port not in ports.values():
                ports[PORT_NAMES[len(ports)]] = port
        return ports
    if not 1024 <= base_port <= 65535 - len(PORT_NAMES):
        raise HubError(f"--base-port: expected 0 or a port from 1024 to {65535 - len(PORT_NAMES)}, got {base_port}")
    ports = {name: base_port + offset for offset, name in enumerate(PORT_NAMES)}
    for name, port in ports.items():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                raise HubError(
                    f"--base-port {base_port}: port {port} (for {name}) is taken; the hub needs "
                    f"{len(PORT_NAMES)} ports from {base_port}; pick another base or 0 for free ports"
                ) from None
    return ports


def scrape_targets(ports: dict[str, int]) -> list[ScrapeTarget]:
    """Every target with the label contract: job = component, instance = hub server, exporter = kind."""
    address = "127.0.0.1:{}".format
    targets = [
        ScrapeTarget(component, server, "node", address(ports[f"node-exporter {server}"]))
        for server, component in SERVERS.items()
    ]
    targets += [
        ScrapeTarget("app", "app-1", "app", address(ports["app-1"])),
        ScrapeTarget("app", "app-2", "app", address(ports["app-2"])),
        ScrapeTarget("postgresql", "pg-1", "postgres", address(ports["postgres-exporter pg-1"])),
        ScrapeTarget("postgresql", "pg-2", "postgres", address(ports["postgres-exporter pg-2"])),
        ScrapeTarget("redis", "redis-1", "redis", address(ports["redis-exporter"])),
        ScrapeTarget("nginx", "nginx-1", "nginx", address(ports["nginx-exporter"])),
    ]
    probes = {
        "https": ("http_2xx", f"https://127.0.0.1:{ports['nginx-https']}/healthz"),
        "tls": ("tls_connect", f"127.0.0.1:{ports['nginx-https']}"),
    }
    for probe, (module, target) in probes.items():
        extra = {"probe": probe, "__metrics_path__": "/probe", "__param_module": module, "__param_target": target}
        targets.append(ScrapeTarget("nginx", "nginx-1", "blackbox", address(ports["blackbox"]), extra))
    return targets


def set_toml_keys(text: str, section: str, values: dict[str, str]) -> str:
    """Set ``key = value`` lines (values already TOML) in ``[section]`` of a TOML text, keeping everything else."""
    lines = text.splitlines()
    header = f"[{section}]"
    try:
        start = next(i for i, line in enumerate(lines) if line.split("#")[0].strip() == header)
    except StopIteration:
        return text.rstrip("\n") + f"\n\n{header}\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    pending = dict(values)
    for i in range(start + 1, end):
        match = re.match(r"\s*([A-Za-z0-9_]+)\s*=", lines[i])
        if match and match.group(1) in pending:
            key = match.group(1)
            lines[i] = f"{key} = {pending.pop(key)}"
    last = end
    while last > start + 1 and not lines[last - 1].strip():
        last -= 1
    lines[last:last] = [f"{key} = {value}" for key, value in pending.items()]
    return "\n".join(lines) + "\n"


def _quoted(value: str | Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_platform_toml(hub: Hub) -> Path:
    """The default config with [sources] pointed at the hub; validated by loading it back."""
    text = DEFAULT_CONFIG_PATH.read_text()
    text = set_toml_keys(text, "sources.postgres", {
        "host": '"127.0.0.1"', "port": str(hub.ports["pg-1"]), "dbname": '"community_hub"', "user": '"sre_monitor"',
        "password_file": _quoted(hub.secrets_dir / "sre_monitor.password"),
    })  # fmt: skip
    text = set_toml_keys(text, "sources.redis", {
        "url": _quoted(f"redis://127.0.0.1:{hub.ports['redis-1']}/0"),
        "password_file": _quoted(hub.secrets_dir / "redis.password"),
    })  # fmt: skip
    text = set_toml_keys(text, "sources.prometheus", {"url": _quoted(hub.prometheus_url)})
    text = set_toml_keys(text, "sources.pgbackrest", _pgbackrest_keys(hub))
    if hub.media_mount is not None:  # disk series of this mount point belong to the media component
        text = set_toml_keys(text, "components.media", {"mountpoint": _quoted(hub.media_mount)})
    header = (
        "# Written by `sre hub up` for the hub in this folder: the default config with [sources] pointed at it.\n"
        f"# The media volume is mounted at {hub.media_mount or '(not mounted: ' + hub.media_note + ')'}.\n"
    )
    hub.config_path.write_text(header + text)
    load_config(hub.config_path)  # a hub that writes a config the workbench refuses is a bug: fail now
    return hub.config_path


def _pgbackrest_keys(hub: Hub) -> dict[str, str]:
    """[sources.pgbackrest] for `sre collect backups`: the hub's stanza, pgbackrest.conf and restore-test log,
    run as the postgres account that owns the repository."""
    from sre_lib.hub.hub_postgres import STANZA

    account = postgres_user()
    prefix = ["runuser", "-u", account.pw_name, "--"] if account else []
    return {
        "stanza": _quoted(STANZA),
        "config": _quoted(hub.pgbackrest_conf),
        "restore_log": _quoted(hub.restore_log),
        "command_prefix": "[" + ", ".join(_quoted(part) for part in prefix) + "]",
    }


def write_env_file(hub: Hub) -> Path:
    """``<dir>/env``: export lines for SRE_CONFIG and SRE_WAREHOUSE (no secrets), for ``source <dir>/env``."""
    hub.env_path.write_text(
        f"export SRE_CONFIG={shlex.quote(str(hub.config_path))}\n"
        f"export SRE_WAREHOUSE={shlex.quote(str(hub.warehouse_path))}\n"
    )
    return hub.env_path
