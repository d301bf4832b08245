"""The shared browser harness: a real Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright for Python.

Nothing is mocked. A directory is served over http on ``127.0.0.1`` (an ephemeral port, a
thread of the test process); Chromium is launched headless with the flags below; every
request is recorded four ways, so a test can assert that a page fetched nothing:

* ``Recorder.requests``: every request the page issued (``page.on("request")``), in order;
* ``Recorder.routed``: every request that reached the context's route (``context.route("**/*")``),
  which lets requests to the served origin through and aborts every other one;
* ``Served.log``: every path the http server was asked for (favicons, prefetches and other
  browser-initiated requests a page event may not show);
* ``Recorder.violations``: every Content-Security-Policy violation the page reported
  (``securitypolicyviolation`` events: a request the CSP stopped before it reached the network).

``tests/conftest.py`` registers this module as a plugin, so its fixtures serve every test module::

    def test_page(served, page):
        site = served(tmp_path)                      # http://127.0.0.1:PORT/
        page.open(site.url("check.html"))
        page.upload("#package", [package_path])
        page.screenshot(Path("docs/check-page.png"))
        assert page.requests == [site.url("check.html")]

Fixtures: ``chromium`` (session: one browser process), ``served`` (a factory: serve a directory
until the test ends) and ``page`` (a fresh context and page per test, with the recorder).
"""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Route,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "Recorder",
    "Served",
    "chromium",
    "launch_chromium",
    "new_page",
    "page",
    "serve_directory",
    "served",
]

#: Debian's Chromium (``apt-get install chromium``); Playwright's own browser download is never used.
CHROMIUM = "/usr/bin/chromium"
#: No sandbox (containers), no GPU, and none of Chromium's own background traffic (component updates,
#: sync, safe-browsing lists, QUIC probes), so that the only requests are the ones a page makes.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

#: Recorded in every document before its own scripts run (init scripts are not subject to the page's CSP).
_VIOLATION_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


# --- the http server ------------------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves one directory, logs each requested path into the server's ``log`` instead of stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.log.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()

    def do_HEAD(self) -> None:
        self.server.log.append(self.path)  # type: ignore[attr-defined]
        super().do_HEAD()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@dataclass
class Served:
    """A directory served over http on ``127.0.0.1``: its origin and the log of requested paths."""

    root: Path
    origin: str
    log: list[str]

    def url(self, path: str = "") -> str:
        """The absolute URL of ``path`` (relative to the served directory)."""
        return f"{self.origin}/{path.lstrip('/')}"


class serve_directory:
    """Serve ``root`` over http on ``127.0.0.1`` at an ephemeral port, in a daemon thread, while in ``with``."""

    def __init__(self, root: Path) -> None:
        """Prepare to serve ``root`` (nothing listens until ``__enter__``)."""
        self.root = Path(root)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Served:
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.log = []  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
        self._thread.start()
        host, port = server.server_address[:2]
        return Served(self.root, f"http://{host}:{port}", server.log)  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None, "__exit__ without __enter__"
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


# --- the browser ------------------------------------------------------------------------------


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch Debian's Chromium headless with :data:`CHROMIUM_ARGS`; fail (never skip) if it is missing."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (the browser tests never skip)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))


@dataclass
class Recorder:
    """A page and everything it did: requests, routed requests, CSP violations, console lines, errors."""

    page: Page
    context: BrowserContext
    #: What the route lets through: the origins of the served directories, and files opened by URL; the rest
    #: is aborted.
    allowed: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    routed: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, url: str) -> None:
        """Load ``url``: its origin (http) or the file itself (``file://``) is let through the route."""
        allow = "/".join(url.split("/", 3)[:3]) if url.startswith("http") else url
        if allow not in self.allowed:
            self.allowed.append(allow)
        self.page.goto(url, wait_until="load")

    def upload(self, selector: str, files: Sequence[Path]) -> None:
        """Set the files of the ``<input type=file>`` at ``selector`` (as picking them in the dialog would)."""
        self.page.set_input_files(selector, [str(f) for f in files])

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """Save a PNG screenshot of the page to ``path`` (its directory is created) and return ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    @property
    def violations(self) -> list[dict[str, str]]:
        """The CSP violations the current document reported (each: directive, blocked URI, sample)."""
        found: list[dict[str, str]] = self.page.evaluate("window.__cspViolations || []")
        return found

    def _on_route(self, route: Route) -> None:
        url = route.request.url
        self.routed.append(url)
        if any(url == o or url.startswith(o + "/") for o in self.allowed):
            route.continue_()
        else:
            self.aborted.append(url)
            route.abort("blockedbyclient")


def new_page(browser: Browser, **context_options: Any) -> Recorder:
    """Open a fresh context (no shared cache, cookies or storage) and page, with every recorder attached."""
    context = browser.new_context(service_workers="block", **context_options)
    context.add_init_script(_VIOLATION_LISTENER)
    page_ = context.new_page()
    recorder = Recorder(page_, context)
    context.route("**/*", recorder._on_route)
    page_.on("request", lambda r: recorder.requests.append(_url(r)))
    page_.on("console", lambda m: recorder.console.append(_console(m)))
    page_.on("pageerror", lambda e: recorder.errors.append(str(e)))
    return recorder


def _url(request: Request) -> str:
    return request.url


def _console(message: ConsoleMessage) -> str:
    return f"{message.type}: {message.text}"


# --- pytest fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the session."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def served() -> Iterator[Callable[[Path], Served]]:
    """A factory: ``served(directory)`` serves it over http until the test ends."""
    running: list[serve_directory] = []

    def serve(root: Path) -> Served:
        server = serve_directory(root)
        running.append(server)
        return server.__enter__()

    yield serve
    for server in reversed(running):
        server.__exit__(None, None, None)


@pytest.fixture
def page(chromium: Browser) -> Iterator[Recorder]:
    """A fresh context and page per test (closed at the end)."""
    recorder = new_page(chromium)
    try:
        yield recorder
    finally:
        try:
            recorder.context.close()
        except PlaywrightError:
            pass
