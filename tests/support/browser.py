"""A real headless Chromium with the network cut off, for checking rendered reports as a reader sees them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
]  # fmt: skip


@dataclass
class PageCheck:
    """What an offline browser saw: requests it tried beyond the page itself, and what it drew."""

    outside_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    images: int = 0
    images_drawn: int = 0
    scripts_run: list[str] = field(default_factory=list)
    text: str = ""


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    return path


def open_offline(html: Path, screenshot: Path | None = None) -> PageCheck:
    """Load a local HTML file in headless Chromium with networking off; report what it fetched and drew."""
    from playwright.sync_api import sync_playwright

    check = PageCheck()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(offline=True, java_script_enabled=True)
            context.add_init_script("window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));")
            page = context.new_page()
            page_url = html.resolve().as_uri()

            def on_request(request) -> None:  # type: ignore[no-untyped-def]
                if request.url != page_url and not request.url.startswith("data:"):
                    check.outside_requests.append(request.url)

            page.on("request", on_request)
            page.on("requestfailed", lambda request: check.failed_requests.append(request.url))
            page.on("console", lambda msg: check.console_errors.append(msg.text) if msg.type == "error" else None)
            page.goto(page_url, wait_until="load")
            check.images = page.evaluate("document.images.length")
            check.images_drawn = page.evaluate(
                "Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length"
            )
            check.scripts_run = page.evaluate("window.__alerts")
            check.text = page.inner_text("body")
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return check
