"""A server (or a proxy before it) that echoes the request's credentials back in an error body: `sre collect
prometheus` reports the error without the password, the base64 Basic credentials or the bearer token, on stderr
and in collection_runs. No real Prometheus echoes an Authorization header, so the server is the test's own."""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
import tomli_w
from support.servers import free_port

from sre_lib.config import DEFAULT_CONFIG_PATH, config_to_toml, load_config
from sre_lib.warehouse.store import Warehouse

SRE = str(Path(sys.executable).with_name("sre"))
USER = "sre-reader"
PASSWORD = "Echo%2FSecret-7781"  # percent-encoded in the URL: the client sends "Echo/Secret-7781"
TOKEN = "echo-bearer-token-5519"


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the status the server is set to, echoing the Authorization header in the body."""

    def do_GET(self) -> None:
        status, style = self.server.answer  # type: ignore[attr-defined]
        header = self.headers.get("Authorization", "")
        if style == "json":
            body = json.dumps({"status": "error", "errorType": "bad_data", "error": f"refused Authorization: {header}"})
        else:  # a proxy's plain text, with the headers as a Python dict
            body = f"upstream said no to {{'Authorization': '{header}', 'Accept': '*/*'}}"
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if style == "json" else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Echo)
    server.answer = (400, "json")  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def forbidden_texts() -> list[str]:
    """Every form the credentials take on the wire or in a URL."""
    basic = base64.b64encode(f"{USER}:{unquote(PASSWORD)}".encode()).decode()
    return [PASSWORD, unquote(PASSWORD), basic, basic.rstrip("="), TOKEN]


def run_collect(server: http.server.ThreadingHTTPServer, tmp_path: Path, **env: str) -> tuple[str, list[str]]:
    """`sre collect prometheus` against the server: its stderr and stdout, and collection_runs' errors."""
    raw = tomllib.loads(config_to_toml(load_config(DEFAULT_CONFIG_PATH)))
    raw["sources"]["prometheus"].update({"retries": 1, "concurrency": 1})
    config = tmp_path / "platform.toml"
    config.write_text(tomli_w.dumps(raw))
    warehouse = tmp_path / "w.duckdb"
    result = subprocess.run(
        [SRE, "collect", "prometheus", "--since", "1h", "--config", str(config), "--warehouse", str(warehouse)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    runs = Warehouse(warehouse).runs()
    return result.stderr + result.stdout, [str(error) for error in runs.error]


@pytest.mark.parametrize(("status", "style"), [(400, "json"), (503, "json"), (500, "text")])
def test_echoed_basic_credentials_reach_neither_stderr_nor_the_run_log(
    echo_server: http.server.ThreadingHTTPServer, tmp_path: Path, status: int, style: str
) -> None:
    echo_server.answer = (status, style)  # type: ignore[attr-defined]
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{echo_server.server_address[1]}"
    output, errors = run_collect(echo_server, tmp_path, SRE_PROMETHEUS_URL=url)
    assert errors and all(f"HTTP {status}" in error for error in errors)
    assert f"HTTP {status}" in output
    leaked = [text for text in forbidden_texts() if text in output or any(text in error for error in errors)]
    assert leaked == []
    assert "Basic ***" in output  # what was echoed is still said, without the credentials


def test_an_echoed_bearer_token_reaches_neither_stderr_nor_the_run_log(
    echo_server: http.server.ThreadingHTTPServer, tmp_path: Path
) -> None:
    echo_server.answer = (503, "text")  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{echo_server.server_address[1]}"
    output, errors = run_collect(echo_server, tmp_path, SRE_PROMETHEUS_URL=url, SRE_PROMETHEUS_TOKEN=TOKEN)
    assert errors and "Bearer ***" in output
    assert TOKEN not in output and not [error for error in errors if TOKEN in error]
