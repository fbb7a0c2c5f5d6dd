"""Headless Chromium for the browser tests: Debian's chromium driven through its chromedriver.

A test tool's own browser download cannot work here, so ``.ci/run`` installs the
``chromium`` and ``chromium-driver`` packages and these tests use them. Screenshots
go to ``FUNNELFLOW_TEST_OUTPUT`` (default ``.test-output/`` in the repo).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("FUNNELFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FUNNELFLOW_CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE_WIDTH = 375
HEADLESS_MIN_WIDTH = 500


def output_dir() -> Path:
    path = Path(os.environ.get("FUNNELFLOW_TEST_OUTPUT", REPO / ".test-output")) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        message = f"browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def chromium(width: int = 1280, height: int = 900, javascript: bool = True) -> Iterator:
    """A headless Chromium session; without ``javascript`` pages must work as plain HTML forms."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ff-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    if width < HEADLESS_MIN_WIDTH:
        # Headless Chromium's window is never narrower than 500 px: the phone's viewport is emulated
        # (mobile: <meta name="viewport"> is honoured, as a phone's browser does).
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
        )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str) -> Path:
    path = output_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def fits_width(driver, width: int | None = None) -> bool:
    """Nothing wider than the viewport (or ``width``): readable on a phone without sideways scrolling."""
    limit = width if width is not None else driver.execute_script("return window.innerWidth")
    return driver.execute_script("return document.scrollingElement.scrollWidth") <= limit


_READABILITY = """
const width = arguments[0];
const problems = [];
const name = (el) => '<' + el.tagName.toLowerCase() + '>';
if (window.innerWidth > width) problems.push('the viewport is ' + window.innerWidth + ' px wide');
const scroll = document.scrollingElement.scrollWidth;
if (scroll > width) problems.push('the page scrolls sideways: ' + scroll + ' px wide');
const text = (document.body && document.body.innerText || '').trim();
if (!text) problems.push('no visible text');
for (const el of document.querySelectorAll('body *')) {
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none') continue;
  const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
  if (!own) continue;
  const box = el.getBoundingClientRect();
  // Off-screen to the left on purpose (a honeypot): it makes no sideways scroll.
  if (box.width === 0 || box.height === 0 || box.right <= 0) continue;
  if (box.right > width + 0.5) problems.push(name(el) + ' ends at ' + Math.round(box.right) + ' px');
  if (parseFloat(style.fontSize) < 12) problems.push(name(el) + ' text is ' + style.fontSize);
}
return problems;
"""


def readability_problems(driver, width: int = PHONE_WIDTH) -> list[str]:
    """Why the page is unreadable at ``width`` px: sideways scroll, no visible text, text cut off or tiny."""
    return driver.execute_script(_READABILITY, width)


def visible_text(driver) -> str:
    return driver.find_element("tag name", "body").text


@contextmanager
def serve(app) -> Iterator[str]:
    """An ASGI app on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    ticker = threading.Event()
    for _ in range(600):  # up to 30 s for uvicorn to bind
        if server.started or not thread.is_alive():
            break
        ticker.wait(0.05)
    if not server.started:
        raise RuntimeError("the test server did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def click_and_wait_for_page(driver, css: str, seconds: float = 30) -> None:
    """Click ``css`` (a form's button) and wait until the browser shows the page the click led to.

    The page before the click is marked (a data attribute, set through WebDriver, which works with
    the page's JavaScript off); the wait ends when a fully loaded document without the mark is shown.
    Errors while the browser is between documents are retried, not failures.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("document.documentElement.dataset.ffBeforeClick = '1'")
    driver.find_element("css selector", css).click()
    WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && !document.documentElement.dataset.ffBeforeClick"
        )
    )
