"""``solvency verify --html``: the regulator's self-contained HTML report (issue 12, "Also").

End to end through the CLI on real bundles (the frozen version 2 bundle with its signed wallet
list, the frozen version 4 bundle with margin accounts), then rendered in Debian's Chromium
through the shared harness (``tests/browser.py``): the visible text says what the CLI says, and
the page makes no request. A failing bundle's report says FAILED, with the kind (malformed or
false), section, file and field of the failure.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import Recorder, Served
from bundle_factory import load_manifest, rewrite_file, rewrite_manifest
from typer.testing import CliRunner

from cli.exit_codes import EXIT_FORMAT, EXIT_INPUT, EXIT_OK, EXIT_VERIFICATION
from cli.main import app
from verifier.report_html import content_security_policy

VECTORS = Path(__file__).parent / "vectors"
runner = CliRunner()


class _Page(HTMLParser):
    """Collects the tags, attributes and visible text of a page (a real parser, not a regex)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text)).strip()


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _bundle(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(VECTORS / name, target)
    return target


def _verify(bundle: Path, report: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["verify", str(bundle), "--quiet", "--html", str(report), *extra])
    return result.exit_code, result.stdout


def _cli_sentences(bundle: Path) -> dict[str, str]:
    """The PASS and "not proven" sentences exactly as ``solvency verify`` prints them."""
    out = runner.invoke(app, ["verify", str(bundle), "--quiet"]).stdout
    lines = " ".join(out.split("\n"))
    proven = re.search(r"PASS: (.*?) \([0-9.]+ s\)", lines)
    not_proven = re.search(r"not proven: (.*?) throughput:", lines)
    assert proven and not_proven, out
    return {"proven": proven.group(1).strip(), "not_proven": not_proven.group(1).strip()}


def _assert_self_contained(html: str) -> None:
    page = _parse(html)
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [content_security_policy()]
    assert csp[0].startswith("default-src 'none'; style-src 'sha256-")
    assert not [t for t, _ in page.tags if t in ("script", "img", "iframe", "object", "embed", "form", "base")]
    for tag, attrs in page.tags:
        for key, value in attrs.items():
            assert not key.startswith("on"), (tag, key)  # no inline handlers
            if key in ("src", "href", "action", "srcset"):
                assert (tag, key, value) == ("link", "href", "data:,"), (tag, key, value)  # the empty favicon only
    assert "http://" not in html and "https://" not in html and "url(" not in html and "@import" not in html


def test_a_passing_bundle_with_a_wallet_list(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "bundle_v2")
    manifest = load_manifest(bundle)
    digest = manifest["bundle_digest"]
    report = tmp_path / "out" / "report.html"
    report.parent.mkdir()
    code, stdout = _verify(bundle, report, "--digest", digest)
    assert code == EXIT_OK, stdout
    assert f"HTML report written to {report}" in stdout.replace("\n", "")
    html = report.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.html"]  # atomic: no temporary file left
    text = _parse(html).visible

    assert "PASSED" in text and "FAILED" not in text
    said = _cli_sentences(bundle)
    assert f"Proven: {said['proven']}." in text
    assert f"Not proven: {said['not_proven']}." in text
    assert manifest["exchange"] in text and manifest["round"] in text and digest in text
    assert "equals the digest the exchange published" in text
    # The per-asset table: reserves in whole units and the ratio proven.
    for asset in manifest["assets"]:
        d = asset["decimals"]
        whole = f"{int(asset['reserves']) // 10**d}.{int(asset['reserves']) % 10**d:0{d}d}"
        assert re.search(rf"{asset['symbol']} {d} {asset['leaf_count']} .*{re.escape(whole)} not disclosed yes ≥ 1",
                         text), text
    # Every wallet of the list, with its proof of control's status.
    wallets = json.loads((bundle / "wallets.json").read_bytes())
    for w in wallets["wallets"]:
        assert re.search(rf"{re.escape(w['asset'])} {re.escape(w['chain'])} {re.escape(w['address'])} "
                         rf"{w['proof']['type']} [0-9.]+ passed", text), w["address"]
    for chain in wallets["chains"]:
        assert chain["chain"] in text
    # Every check's status: nothing failed, the checks a version 2 bundle has not are n/a.
    assert "FAILED or not reached" not in text
    assert text.count("n/a") == 3 * len(manifest["assets"])  # sum tree (2 rows) and margin, per asset
    # The same report twice gives the same bytes (no clock, no randomness).
    again = tmp_path / "again.html"
    assert _verify(bundle, again, "--digest", digest)[0] == EXIT_OK
    assert again.read_bytes() == report.read_bytes()


def test_a_passing_bundle_with_margin_accounts(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "bundle_v4")
    report = tmp_path / "report.html"
    code, stdout = _verify(bundle, report)
    assert code == EXIT_OK, stdout
    html = report.read_text(encoding="utf-8")
    _assert_self_contained(html)
    text = _parse(html).visible
    said = _cli_sentences(bundle)
    assert f"Proven: {said['proven']}." in text and f"Not proven: {said['not_proven']}." in text
    margin = load_manifest(bundle)["margin"]
    assert "Margin accounts" in text and margin["root"] in text
    assert "not compared: no published digest was given" in text
    assert "FAILED" not in text


@pytest.mark.parametrize(
    ("how", "code", "kind", "where"),
    [
        ("false", EXIT_VERIFICATION, "false (well formed, but a check fails)", "BTC.rangeproofs.bin chunk 1"),
        ("malformed", EXIT_FORMAT, "malformed (the bytes do not parse", "BTC.rangeproofs.bin"),
        ("digest", EXIT_VERIFICATION, "false (well formed, but a check fails)", "bundle_digest"),
    ],
)
def test_a_failing_bundle_says_failed_and_where(tmp_path: Path, how: str, code: int, kind: str, where: str) -> None:
    bundle = _bundle(tmp_path, "bundle_v2")
    extra: list[str] = []
    if how == "false":  # one byte of t_x (a scalar near the record's end, still canonical): re-signed, so well formed
        rewrite_file(bundle, "BTC.rangeproofs.bin", lambda b: b.__setitem__(len(b) - 40, b[len(b) - 40] ^ 1))
    elif how == "malformed":  # a byte changed without re-signing: its SHA-256 no longer matches
        data = bytearray((bundle / "BTC.rangeproofs.bin").read_bytes())
        data[-1] ^= 1
        (bundle / "BTC.rangeproofs.bin").write_bytes(bytes(data))
    else:
        extra = ["--digest", "00" * 32]
    report = tmp_path / "report.html"
    got, stdout = _verify(bundle, report, *extra)
    assert got == code, stdout
    html = report.read_text(encoding="utf-8")
    _assert_self_contained(html)
    text = _parse(html).visible
    assert "FAILED" in text and "PASSED" not in text and "Proven:" not in text
    assert f"Kind {kind}" in text
    assert f"Section {where}" in text
    assert "HTML report (failed) written to" in stdout.replace("\n", "")


def test_every_string_from_the_bundle_is_escaped(tmp_path: Path) -> None:
    """A manifest whose exchange name is markup: shown as text, never parsed as HTML."""
    bundle = _bundle(tmp_path, "bundle_v1")
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">&amp;"\''
    rewrite_manifest(bundle, lambda m: m.__setitem__("exchange", hostile))
    report = tmp_path / "report.html"
    code, _ = _verify(bundle, report)
    assert code == EXIT_VERIFICATION  # the proofs are bound to the exchange's name
    html = report.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert "<script" not in html and "<img" not in html
    assert hostile in _parse(html).visible


def test_an_unwritable_report_path_is_an_input_error(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "bundle_v1")
    result = runner.invoke(app, ["verify", str(bundle), "--quiet", "--html", str(tmp_path / "no" / "r.html")])
    assert result.exit_code == EXIT_INPUT
    assert result.stderr.startswith("error: ") and "cannot write the HTML report" in result.stderr
    assert not (tmp_path / "no").exists()


def test_the_report_renders_in_chromium_and_fetches_nothing(tmp_path: Path, served, page: Recorder) -> None:
    bundle = _bundle(tmp_path, "bundle_v2")
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    assert _verify(bundle, site_dir / "report.html")[0] == EXIT_OK
    bad = _bundle(tmp_path / "bad", "bundle_v2")
    rewrite_file(bad, "ETH.rangeproofs.bin", lambda b: b.__setitem__(len(b) - 40, b[len(b) - 40] ^ 1))
    assert _verify(bad, site_dir / "failed.html")[0] == EXIT_VERIFICATION
    site: Served = served(site_dir)

    page.open(site.url("report.html"))
    verdict = page.page.inner_text("#verdict")
    assert verdict.startswith("PASSED")
    assert _cli_sentences(bundle)["proven"] in " ".join(verdict.split())
    assert page.page.locator("#assets table tbody tr").count() == 2
    assert page.page.locator("#wallets td", has_text="passed").count() == 9  # every wallet row
    # The stylesheet applied (its hash is the CSP's): the status badge is green on white text.
    assert page.page.eval_on_selector(".status", "e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    page.screenshot(tmp_path / "report.png")

    page.open(site.url("failed.html"))
    verdict = page.page.inner_text("#verdict")
    assert verdict.startswith("FAILED") and "ETH.rangeproofs.bin chunk 0" in verdict

    assert page.requests == [site.url("report.html"), site.url("failed.html")]
    assert page.routed == page.requests and page.aborted == []
    assert site.log == ["/report.html", "/failed.html"]
    assert page.violations == [] and page.errors == []


def test_hidden_characters_are_shown_as_escapes() -> None:
    """A bidi override or a newline in any string (here, an error message) is shown, not obeyed."""
    from circuits.errors import VerificationError
    from verifier.report import BundleReport
    from verifier.report_html import bundle_report_html

    report = BundleReport(ok=False, exchange="Ex\u202echange", round="r\n1", created="", bundle_digest="")
    error = VerificationError("bad\u202e<b>x</b>\u2028", section="s\x1b[2J", file="f", field="g")
    html = bundle_report_html(report, error=error)
    for ch in ("\u202e", "\u2028", "\x1b"):
        assert ch not in html
    text = _parse(html).visible
    assert "Ex\\u202echange" in text and "r\\u000a1" in text
    assert "bad\\u202e<b>x</b>\\u2028" in text and "s\\u001b[2J" in text
