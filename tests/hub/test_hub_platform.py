"""The hub on loopback: one hub for the module, every service checked, then each fault at the platform level,
then a stop that leaves no process and no mount."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from support.polling import eventually
from support.servers import PG_BIN, require

from sre_lib.collect.backup_records import parse_backup_log
from sre_lib.hub.hub_platform import Hub
from sre_lib.hub.media_volume import is_mounted

TOOLS = (
    "nginx", "pgbackrest", "redis-server", "openssl", "prometheus", "prometheus-node-exporter",
    "prometheus-postgres-exporter", "prometheus-redis-exporter", "prometheus-nginx-exporter",
    "prometheus-blackbox-exporter",
)  # fmt: skip
UNVERIFIED = ssl._create_unverified_context()  # the hub's certificate is self-signed


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    for tool in (*TOOLS, PG_BIN / "postgres"):
        require(tool)
    folder = Path(f"/tmp/sre-hub-test-{os.getpid()}")  # under /tmp: the postgres account must reach it
    with Hub.start(folder, base_port=0, cert_days=90) as running:
        yield running
    shutil.rmtree(folder, ignore_errors=True)


def _get(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=timeout, context=UNVERIFIED) as response:
        return response.status, dict(response.headers), response.read()


def _query(hub: Hub, promql: str) -> list[dict[str, Any]]:
    url = f"{hub.prometheus_url}/api/v1/query?query={urllib.parse.quote(promql)}"
    return json.loads(_get(url)[2])["data"]["result"]


def _pg(hub: Hub, sql: str, server: str = "pg-1", dbname: str = "postgres") -> list[tuple]:
    with psycopg.connect(hub.superuser_conninfo(server, dbname), autocommit=True) as con:
        return con.execute(sql).fetchall()


def test_https_through_nginx_reaches_both_app_servers(hub: Hub) -> None:
    upstreams = set()
    for _ in range(6):
        status, headers, _body = _get(f"{hub.https_url}/healthz")
        assert status == 200
        upstreams.add(headers["X-Hub-Upstream"])
    assert upstreams == {f"127.0.0.1:{hub.ports['app-1']}", f"127.0.0.1:{hub.ports['app-2']}"}
    status, _headers, body = _get(hub.stub_status_url)
    assert status == 200 and b"Active connections" in body


def test_every_exporter_serves_metrics(hub: Hub) -> None:
    for target in hub.scrape_targets():
        if target.exporter == "blackbox":
            continue
        status, _headers, body = _get(f"http://{target.address}/metrics")
        assert status == 200 and b"# TYPE" in body, target


def test_prometheus_scrapes_every_target_with_the_label_contract(hub: Hub) -> None:
    expected = {(t.job, t.instance, t.exporter, t.extra.get("probe", "")) for t in hub.scrape_targets()}

    def all_up() -> set[tuple[str, str, str, str]]:
        seen = {
            (m["metric"]["job"], m["metric"]["instance"], m["metric"]["exporter"], m["metric"].get("probe", ""))
            for m in _query(hub, "up == 1")
        }
        return seen if seen >= expected else set()

    assert eventually(all_up, "up == 1 for every target") == expected
    assert {i for _j, i, _e, _p in expected} == {"nginx-1", "app-1", "app-2", "pg-1", "pg-2", "redis-1", "media-1"}
    probe = eventually(lambda: _query(hub, 'probe_success{probe="https"} == 1'), "the https probe succeeding")
    assert probe[0]["metric"]["job"] == "nginx"
    assert eventually(lambda: _query(hub, 'http_requests_total{job="app"}'), "the app's own request counter")


def test_postgres_replica_backup_and_restore_test(hub: Hub) -> None:
    replicas = eventually(lambda: _pg(hub, "SELECT state FROM pg_stat_replication"), "the replica streaming")
    assert replicas == [("streaming",)]
    assert _pg(hub, "SELECT pg_is_in_recovery()", server="pg-2") == [(True,)]
    assert _pg(hub, "SHOW shared_preload_libraries") == [("pg_stat_statements",)]
    extensions = _pg(hub, "SELECT extname FROM pg_extension", dbname="community_hub")
    assert ("pg_stat_statements",) in extensions
    account = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    info = subprocess.run(
        [*account, "pgbackrest", f"--config={hub.pgbackrest_conf}", "--stanza=hub", "--output=json", "info"],
        capture_output=True, text=True, check=True, timeout=60, cwd="/",
    )  # fmt: skip
    backups = json.loads(info.stdout)[0]["backup"]
    # the full backup in repo1, its off-site copy in repo2 (another folder standing in for another region)
    assert [(b["type"], b["database"]["repo-key"]) for b in backups] == [("full", 1), ("full", 2)]
    local, offsite = backups
    rows = hub.restore_log.read_text().splitlines()
    assert rows[0].startswith("kind,server,backup_id,started_at,finished_at,status")
    assert rows[1].startswith(f"offsite,postgresql,{offsite['label']},") and ",ok,pgbackrest repo2 " in rows[1]
    assert rows[2].startswith(f"restore_test,postgresql,{local['label']},") and ",ok," in rows[2]
    # the log is what `sre backups load --log` reads: one off-site copy and one restore test
    logged = parse_backup_log(hub.restore_log.read_text(), str(hub.restore_log))
    assert logged["offsite_copies"]["backup_id"].tolist() == [offsite["label"]]
    assert logged["restore_tests"]["backup_id"].tolist() == [local["label"]]
    for secret in ("sre_monitor.password", "hub_app.password", "redis.password"):
        assert (hub.secrets_dir / secret).stat().st_mode & 0o777 == 0o600
        assert (hub.secrets_dir / secret).read_text().strip() not in hub.config_path.read_text()


def test_redis_has_a_small_maxmemory(hub: Hub) -> None:
    client = redis.Redis.from_url(hub.redis_url)
    try:
        assert client.config_get("maxmemory")["maxmemory"] == str(8 * 1024 * 1024)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    finally:
        client.close()


def test_the_workbench_config_points_at_the_hub(hub: Hub) -> None:
    from sre_lib.config import load_config

    config = load_config(hub.config_path)
    assert config.sources.postgres.port == hub.ports["pg-1"]
    assert config.sources.postgres.user == "sre_monitor"
    assert config.sources.prometheus.url == hub.prometheus_url
    assert f"SRE_CONFIG={hub.config_path}" in hub.env_path.read_text()
    monitor_password = Path(config.sources.postgres.password_file or "").read_text().strip()
    conninfo = f"host=127.0.0.1 port={hub.ports['pg-1']} dbname=community_hub user=sre_monitor"
    with psycopg.connect(f"{conninfo} password={monitor_password}") as con:
        assert con.execute("SELECT pg_has_role('pg_monitor', 'MEMBER')").fetchone() == (True,)


def test_fault_archiving_broken_then_mended(hub: Hub) -> None:
    (before,) = _pg(hub, "SELECT failed_count FROM pg_stat_archiver")
    hub.fault("break-archiving")
    failed = eventually(
        lambda: [r for r in _pg(hub, "SELECT failed_count, last_failed_wal FROM pg_stat_archiver") if r[0] > before[0]],
        "the archiver failing",
    )
    assert failed[0][1]
    (archived,) = _pg(hub, "SELECT archived_count FROM pg_stat_archiver")
    hub.fault("mend-archiving")
    eventually(
        lambda: _pg(hub, "SELECT archived_count FROM pg_stat_archiver")[0][0] > archived[0],
        "archiving succeeding after the mend",
        timeout=90,
    )


def test_fault_drop_index(hub: Hub) -> None:
    from sre_lib.hub.community_schema import HOT_INDEX

    exists = f"SELECT count(*) FROM pg_indexes WHERE indexname = '{HOT_INDEX}'"
    assert _pg(hub, exists, dbname="community_hub") == [(1,)]
    hub.fault("drop-index")
    assert _pg(hub, exists, dbname="community_hub") == [(0,)]
    hub.fault("restore-index")
    assert _pg(hub, exists, dbname="community_hub") == [(1,)]


def test_fault_redis_pressure_evicts(hub: Hub) -> None:
    client = redis.Redis.from_url(hub.redis_url)
    try:
        before = int(client.info("stats")["evicted_keys"])
        hub.fault("redis-pressure")
        evicted = int(client.info("stats")["evicted_keys"])
        assert evicted > before
    finally:
        client.close()
    # Prometheus sees them through redis_exporter, and the catalogue's rate reads above 0 over the next scrapes.
    total = 'redis_evicted_keys_total{instance="redis-1"}'
    eventually(lambda: [m for m in _query(hub, total) if float(m["value"][1]) >= evicted], f"{total} >= {evicted}")
    rate = f"60 * rate({total}[5m])"
    first = eventually(lambda: [float(m["value"][1]) for m in _query(hub, rate) if float(m["value"][1]) > 0], rate)
    time.sleep(4)  # two scrapes later (the hub scrapes every 2 s), the rate still reads the evictions
    assert next(float(m["value"][1]) for m in _query(hub, rate)) > 0, first


def test_fault_short_certificate(hub: Hub) -> None:
    ten_days = time.time() + 10 * 86400 + 60
    expiry = 'probe_ssl_earliest_cert_expiry{job="nginx", instance="nginx-1"}'
    assert all(float(m["value"][1]) > ten_days for m in eventually(lambda: _query(hub, expiry), "cert expiry"))
    hub.fault("short-cert")
    eventually(
        lambda: (found := _query(hub, expiry)) and all(float(m["value"][1]) <= ten_days for m in found),
        "probe_ssl_earliest_cert_expiry within 10 days",
    )


def test_fault_stop_app(hub: Hub) -> None:
    hub.fault("stop-app")
    down = eventually(
        lambda: {m["metric"]["exporter"] for m in _query(hub, 'up{instance="app-2"} == 0')} >= {"app", "node"},
        "app-2's targets (app and node) down",
    )
    assert down
    assert _get(f"{hub.https_url}/healthz")[0] == 200  # nginx carries on with app-1
    assert _query(hub, 'up{instance="app-1"} == 0') == []


def test_fault_stop_replica(hub: Hub) -> None:
    hub.fault("stop-replica")
    eventually(lambda: _pg(hub, "SELECT count(*) FROM pg_stat_replication") == [(0,)], "the replica gone")


def test_stopping_leaves_no_process_and_no_mount(hub: Hub) -> None:
    pids = hub.pids()
    assert pids
    hub.stop()
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not alive, f"still running after stop: {alive}"
    mentioning = subprocess.run(["pgrep", "-f", str(hub.state_dir)], capture_output=True, text=True).stdout.split()
    assert not mentioning, f"processes naming the hub's folder still run: {mentioning}"
    assert not is_mounted(hub.state_dir / "media")
