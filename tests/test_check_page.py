"""The built check page: never stale, self-contained, and what ``solvency check-page`` writes.

``verifier/web/check.html`` is committed (the Python package ships it, so installing needs no
npm). This test rebuilds it from ``web/`` with node and esbuild and requires the committed file
to be byte-identical, so a change to the page or to ``web/src`` that was not rebuilt fails here.
It fails (never skips) if node or ``node_modules`` is missing: ``npm ci`` installs esbuild.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.exit_codes import EXIT_INPUT, EXIT_OK
from cli.main import app
from verifier.check_page import CHECK_PAGE_NAME, check_page

ROOT = Path(__file__).resolve().parent.parent
BUILT = ROOT / "verifier" / "web" / "check.html"
TABLE = ROOT / "circuits" / "data" / "generators_v1.bin"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: the check page is built with node (apt-get install nodejs)")
    if not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.fail("node_modules/esbuild missing: run `npm ci` (the README's test command does)")
    return node


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script> and <style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: dict[str, list[str]] = {"script": [], "style": []}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.inline:
            self._in = tag
            self.inline[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.inline[self._in][-1] += data


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def test_the_committed_page_is_what_the_sources_build(tmp_path: Path) -> None:
    out = tmp_path / "check.html"
    result = subprocess.run(
        [_node(), str(ROOT / "web" / "build.mjs"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == BUILT.read_bytes(), (
        "verifier/web/check.html is stale: run `node web/build.mjs` and commit the result"
    )


def test_the_page_is_self_contained_and_its_csp_pins_its_one_script_and_stylesheet() -> None:
    html = BUILT.read_text(encoding="utf-8")
    page = _Elements()
    page.feed(html)
    page.close()
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1 and csp[0] is not None
    directives = dict(d.strip().split(" ", 1) for d in csp[0].split(";"))
    (script,) = page.inline["script"]
    (style,) = page.inline["style"]
    assert directives == {
        "default-src": "'none'",
        "script-src": _sha256_source(script),
        "style-src": _sha256_source(style),
        "img-src": "data:",
        "connect-src": "'none'",
        "form-action": "'none'",
        "base-uri": "'none'",
    }
    # Nothing external: no src or href but the empty favicon, no other element that loads.
    for tag, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs), tag  # no inline handlers (the CSP would block them)
        assert "style" not in attrs, tag  # no inline style attributes (ditto)
        for key in ("src", "href", "action", "srcset", "formaction"):
            if key in attrs:
                assert (tag, key, attrs[key]) == ("link", "href", "data:,")
    assert [t for t, _ in page.tags if t == "script"] == ["script"]
    assert not [t for t, _ in page.tags if t in ("iframe", "object", "embed", "img", "base")]
    # No storage API and no way to send: the page keeps nothing and fetches nothing.
    for api in ("localStorage", "sessionStorage", "indexedDB", "document.cookie", "sendBeacon", "XMLHttpRequest",
                "WebSocket", "serviceWorker", "fetch("):
        assert api not in script, api
    # The generator table is inlined, whole.
    table = base64.b64encode(TABLE.read_bytes()).decode()
    assert table in script


def test_check_page_writes_the_shipped_page(tmp_path: Path) -> None:
    out = tmp_path / "site" / "nested"
    result = CliRunner().invoke(app, ["check-page", "--out", str(out)])
    assert result.exit_code == EXIT_OK, result.output
    written = out / CHECK_PAGE_NAME
    assert written.read_bytes() == check_page() == BUILT.read_bytes()
    digest = hashlib.sha256(written.read_bytes()).hexdigest()
    assert re.fullmatch(rf"wrote {re.escape(str(written))} \([0-9,]+ bytes, sha256 {digest}\)\n", result.stdout)
    assert sorted(p.name for p in out.iterdir()) == [CHECK_PAGE_NAME]  # atomic: no temporary file left
    again = CliRunner().invoke(app, ["check-page", "--out", str(out)])  # overwrites, same bytes
    assert again.exit_code == EXIT_OK and written.read_bytes() == BUILT.read_bytes()


def test_check_page_into_an_unwritable_place_is_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(app, ["check-page", "--out", str(blocker)])
    assert result.exit_code == EXIT_INPUT
    assert result.stderr.startswith("error: ") and "cannot write the check page" in result.stderr
