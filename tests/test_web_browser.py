"""The customer check page in a real browser (issue 12): Debian's Chromium, driven by Playwright for Python.

The page is what ``solvency check-page`` writes, served over http on 127.0.0.1 by the harness
(``tests/browser.py``). The round is real: a synthetic ledger proven by the project's prover in a
temporary directory (format 3, the sum tree), and a second round from the same ledger. The
customer picks their package and the bundle files; the verdict the page shows must be the one
``solvency check`` prints, sentence for sentence and in the same order; a tampered package, a
package of another round and a wrong pinned digest fail with the Python check's class (malformed
or false) and message; and the page makes no request but for itself. The frozen rounds of
``tests/vectors`` (formats 1, 3 and 4, the last with a margin account) are checked the same way.

The test of the full check saves its screenshot to ``docs/check-page.png`` (the README's customer
section), rewriting it only when the picture changed: the round is reproducible (fixed master
secret, creation time and run nonce), so the screenshot is too.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import Recorder, Served
from typer.testing import CliRunner

from cli.exit_codes import EXIT_FORMAT, EXIT_OK, EXIT_PARTIAL, EXIT_VERIFICATION
from cli.main import app

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "check-page.png"
VECTORS = Path(__file__).parent / "vectors"
runner = CliRunner()

ROUND_A = "2026-12-31T00:00:00Z"
ROUND_B = "2027-01-31T00:00:00Z"
CREATED = "2027-02-01T00:05:00Z"
#: Fixed, so that the round (and the screenshot) is the same on every run. A test secret, nothing else.
MASTER = bytes(range(32))
NONCE = "ab" * 32


@dataclass
class Round:
    bundle: Path
    packages: dict[str, Path]
    digest: str


@dataclass
class Rounds:
    a: Round
    b: Round
    customer: str


def _solvency(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _prove(root: Path, ledger: Path, reserves: Path, secret: Path, name: str) -> Round:
    code, out, err = _solvency(
        "prove", "--ledger", ledger, "--reserves", reserves, "--secret", secret, "--out", root / name,
        "--packages", root / f"{name}-packages", "--packages-format", "dir", "--chunk", 16, "--created", CREATED,
        "--run-nonce", NONCE, "--quiet",
    )
    assert code == EXIT_OK, out + err
    with (root / f"{name}-packages" / "index.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    packages = {cid: root / f"{name}-packages" / file for cid, file in rows}
    digest = json.loads((root / name / "manifest.json").read_bytes())["bundle_digest"]
    return Round(root / name, packages, digest)


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> Rounds:
    root = tmp_path_factory.mktemp("web-rounds")
    code, out, err = _solvency(
        "gen-ledger", "--customers", 24, "--assets", "BTC,ETH", "--seed", 12, "--out", root / "in"
    )
    assert code == EXIT_OK, out + err
    secret = root / "master.key"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(MASTER)
    reserves = json.loads((root / "in" / "reserves.json").read_bytes())
    for label, round_label in (("a", ROUND_A), ("b", ROUND_B)):
        reserves["round"] = round_label
        (root / f"reserves-{label}.json").write_text(json.dumps(reserves), encoding="utf-8")
    ledger = root / "in" / "ledger.csv"
    a = _prove(root, ledger, root / "reserves-a.json", secret, "round-a")
    b = _prove(root, ledger, root / "reserves-b.json", secret, "round-b")
    # A customer holding both assets, so that the verdict has sentences for two entries.
    two = [cid for cid, path in a.packages.items() if len(json.loads(path.read_bytes())["entries"]) == 2]
    assert two, "the synthetic ledger has no customer with both assets"
    return Rounds(a, b, sorted(two)[0])


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("web-site")
    code, stdout, stderr = _solvency("check-page", "--out", out)
    assert code == EXIT_OK, stdout + stderr
    return out


@pytest.fixture
def site(site_dir: Path, served) -> Served:
    return served(site_dir)


# --- driving the page -------------------------------------------------------------------------------


def _open(page: Recorder, site: Served) -> None:
    page.open(site.url("check.html"))
    page.page.wait_for_selector("html[data-ready='1']")


def _check(
    page: Recorder,
    package: Path,
    bundle: list[Path] | None = None,
    *,
    digest: str = "",
    customer: str = "",
    folder: Path | None = None,
) -> dict[str, object]:
    """Pick the files, fill the pins, press Check; return what the page shows."""
    page.upload("#package-input", [package])
    if bundle:
        page.upload("#bundle-input", bundle)
    if folder is not None:
        page.upload("#bundle-dir-input", [folder])
    page.page.fill("#digest", digest)
    page.page.fill("#customer-id", customer)
    page.page.click("#check")
    page.page.wait_for_selector("#result[data-status]", timeout=60_000)
    result = page.page.locator("#result")
    shown: dict[str, object] = {
        "status": result.get_attribute("data-status"),
        "headline": page.page.inner_text("#status").strip(),
        "lines": [li.strip() for li in page.page.locator("#claims li").all_inner_texts()],
    }
    if shown["status"] == "fail":
        shown.update(
            kind=page.page.inner_text("#failure-kind"),
            section=page.page.inner_text("#failure-section"),
            file=page.page.inner_text("#failure-file"),
            field=page.page.inner_text("#failure-field"),
            message=page.page.inner_text("#failure-message"),
        )
    return shown


def _cli_check(
    package: Path, bundle: Path | None = None, *, digest: str = "", customer: str = ""
) -> tuple[int, list[str], str]:
    """``solvency check`` with the same inputs: exit code, its verdict lines (stripped), stderr."""
    args: list[object] = ["check", package, "--quiet"]
    if bundle is not None:
        args += ["--bundle", bundle]
    if digest:
        args += ["--digest", digest]
    if customer:
        args += ["--customer-id", customer]
    code, out, err = _solvency(*args)
    return code, [line.strip() for line in out.splitlines() if line.strip()], err.strip()


def _cli_json(package: Path, bundle: Path | None = None, **pins: str) -> dict[str, object]:
    args: list[object] = ["check", package, "--json"]
    if bundle is not None:
        args += ["--bundle", bundle]
    if pins.get("digest"):
        args += ["--digest", pins["digest"]]
    payload: dict[str, object] = json.loads(_solvency(*args)[1])
    return payload


def _bundle_files(bundle: Path) -> list[Path]:
    return sorted(p for p in bundle.iterdir() if p.is_file())


def _save_screenshot(page: Recorder, tmp_path: Path) -> None:
    shot = page.screenshot(tmp_path / "check-page.png")
    if not SCREENSHOT.exists() or SCREENSHOT.read_bytes() != shot.read_bytes():
        SCREENSHOT.write_bytes(shot.read_bytes())


# --- the tests ----------------------------------------------------------------------------------------


def test_a_full_check_says_what_solvency_check_says(
    rounds: Rounds, site: Served, page: Recorder, tmp_path: Path
) -> None:
    package = rounds.a.packages[rounds.customer]
    _open(page, site)
    shown = _check(page, package, _bundle_files(rounds.a.bundle), digest=rounds.a.digest, customer=rounds.customer)
    code, lines, _ = _cli_check(package, rounds.a.bundle, digest=rounds.a.digest, customer=rounds.customer)
    assert code == EXIT_OK
    assert shown["status"] == "pass"
    assert [shown["headline"], *shown["lines"]] == lines  # same sentences, same order
    assert any(line.startswith("proven: ") for line in lines) and any(line.startswith("not proven: ") for line in lines)
    _save_screenshot(page, tmp_path)
    # Nothing was stored: no web storage, no cookie, no database.
    stored = page.page.evaluate(
        "async () => [localStorage.length, sessionStorage.length, document.cookie,"
        " (await indexedDB.databases()).length]"
    )
    assert stored == [0, 0, "", 0]
    assert page.requests == [site.url("check.html")]
    assert site.log == ["/check.html"]
    assert page.violations == [] and page.errors == []


def test_the_package_alone_is_a_partial_check(rounds: Rounds, site: Served, page: Recorder) -> None:
    package = rounds.a.packages[rounds.customer]
    _open(page, site)
    shown = _check(page, package)
    code, lines, _ = _cli_check(package)
    assert code == EXIT_PARTIAL and shown["status"] == "partial"
    assert [shown["headline"], *shown["lines"]] == lines


def test_the_bundle_folder_can_be_picked_whole(rounds: Rounds, site: Served, page: Recorder) -> None:
    package = rounds.a.packages[rounds.customer]
    _open(page, site)
    shown = _check(page, package, folder=rounds.a.bundle, customer=rounds.customer)
    _, lines, _ = _cli_check(package, rounds.a.bundle, customer=rounds.customer)
    assert shown["status"] == "pass" and [shown["headline"], *shown["lines"]] == lines


def _assert_same_failure(
    shown: dict[str, object], cli: dict[str, object], kind: str, code: int, *, parser_detail: bool = False
) -> None:
    """The page failed as ``solvency check --json`` did: kind, section, field and message.

    ``parser_detail``: the message ends with the JSON parser's own words, which differ between Python's
    ``json`` and the browser's ``JSON.parse`` (and so does the position they name); only the project's
    own text before them must be the same.
    """
    assert cli["exit_code"] == code and cli["failure_kind"] == kind
    assert shown["status"] == "fail" and shown["kind"] == kind
    expected = f"error: {cli['failure']}"
    if parser_detail:
        assert str(shown["message"]).split("(")[0] == expected.split("(")[0]
    else:
        assert shown["message"] == expected
    assert shown["section"] == (cli["failure_section"] or "-")
    assert shown["field"] == (cli["failure_field"] or "-")
    assert shown["lines"] == []  # a failed check states no claim


@pytest.mark.parametrize(
    ("how", "kind", "code"),
    [
        ("amount", "false", EXIT_VERIFICATION),  # well formed, but the commitment no longer matches
        ("truncated", "malformed", EXIT_FORMAT),  # not JSON any more
        ("blinding", "malformed", EXIT_FORMAT),  # not a canonical scalar
    ],
)
def test_a_tampered_package_fails_as_in_python(
    rounds: Rounds, site: Served, page: Recorder, tmp_path: Path, how: str, kind: str, code: int
) -> None:
    original = rounds.a.packages[rounds.customer]
    data = original.read_bytes()
    package = json.loads(data)
    if how == "amount":
        entry = package["entries"][0]
        entry["amount"] = str(int(entry["amount"]) + 1)
        data = json.dumps(package).encode()
    elif how == "blinding":
        package["entries"][0]["blinding"] = "ff" * 32
        data = json.dumps(package).encode()
    else:
        data = data[: len(data) // 2]
    tampered = tmp_path / original.name
    tampered.write_bytes(data)
    _open(page, site)
    shown = _check(page, tampered, _bundle_files(rounds.a.bundle))
    _assert_same_failure(shown, _cli_json(tampered, rounds.a.bundle), kind, code, parser_detail=how == "truncated")
    assert page.requests == [site.url("check.html")]


def test_a_package_of_another_round_fails(rounds: Rounds, site: Served, page: Recorder) -> None:
    other = rounds.b.packages[rounds.customer]
    _open(page, site)
    shown = _check(page, other, _bundle_files(rounds.a.bundle))
    cli = _cli_json(other, rounds.a.bundle)
    _assert_same_failure(shown, cli, "false", EXIT_VERIFICATION)
    assert shown["section"] == "package.bundle_digest"


def test_a_pinned_digest_that_differs_fails(rounds: Rounds, site: Served, page: Recorder) -> None:
    package = rounds.a.packages[rounds.customer]
    _open(page, site)
    shown = _check(page, package, _bundle_files(rounds.a.bundle), digest=rounds.b.digest)
    cli = _cli_json(package, rounds.a.bundle, digest=rounds.b.digest)
    _assert_same_failure(shown, cli, "false", EXIT_VERIFICATION)
    assert shown["section"] == "package.bundle_digest"
    assert page.requests == [site.url("check.html")] and page.violations == []


def test_a_package_made_out_to_someone_else_fails(rounds: Rounds, site: Served, page: Recorder) -> None:
    package = rounds.a.packages[rounds.customer]
    other = next(cid for cid in sorted(rounds.a.packages) if cid != rounds.customer)
    _open(page, site)
    shown = _check(page, package, customer=other)
    code, _, err = _cli_check(package, customer=other)
    assert code == EXIT_VERIFICATION
    assert shown["status"] == "fail" and shown["kind"] == "false" and shown["section"] == "package.customer_id"
    assert shown["message"] == err  # "error: ..." as the command line prints it


def test_the_csp_is_in_force_in_the_browser(site: Served, page: Recorder) -> None:
    """The meta CSP is the document's policy: a request the page's script tried would be refused."""
    _open(page, site)
    csp = page.page.get_attribute("meta[http-equiv='Content-Security-Policy']", "content")
    assert csp is not None and "connect-src 'none'" in csp and csp.startswith("default-src 'none';")
    # An attempt from the console (the page's own code makes none) is blocked by the policy, not by the harness.
    blocked = page.page.evaluate("fetch('/anything').then(() => 'fetched', (e) => 'blocked: ' + e.name)")
    assert blocked == "blocked: TypeError"
    assert [v["directive"] for v in page.violations] == ["connect-src"]
    assert site.log == ["/check.html"]


def test_dropped_files_are_checked_like_picked_ones(rounds: Rounds, site: Served, page: Recorder) -> None:
    package = rounds.a.packages[rounds.customer]
    _open(page, site)
    files = [package, *_bundle_files(rounds.a.bundle)]
    payload = [{"name": f.name, "data": list(f.read_bytes())} for f in files]
    page.page.evaluate(
        """(files) => {
          const dt = new DataTransfer();
          for (const f of files) dt.items.add(new File([new Uint8Array(f.data)], f.name));
          document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
        }""",
        payload,
    )
    page.page.wait_for_function(f"document.querySelectorAll('#bundle-list li').length === {len(files) - 1}")
    page.page.fill("#customer-id", rounds.customer)
    page.page.click("#check")
    page.page.wait_for_selector("#result[data-status]", timeout=60_000)
    _, lines, _ = _cli_check(package, rounds.a.bundle, customer=rounds.customer)
    claims = [t.strip() for t in page.page.locator("#claims li").all_inner_texts()]
    assert [page.page.inner_text("#status").strip(), *claims] == lines


def test_the_page_opened_from_disk_works_too(rounds: Rounds, site_dir: Path, page: Recorder) -> None:
    url = (site_dir / "check.html").as_uri()
    page.open(url)
    page.page.wait_for_selector("html[data-ready='1']")
    package = rounds.a.packages[rounds.customer]
    shown = _check(page, package)
    _, lines, _ = _cli_check(package)
    assert shown["status"] == "partial" and [shown["headline"], *shown["lines"]] == lines
    assert page.requests == [url] and page.violations == [] and page.errors == []



@pytest.mark.parametrize("version", [1, 3, 4], ids=["leaf-tree", "sum-tree", "margin"])
def test_the_frozen_packages_say_what_solvency_check_says(site: Served, page: Recorder, version: int) -> None:
    """The frozen rounds (tests/vectors): format 1 (every chunk proof), 3, and 4 with a margin account."""
    package, bundle = VECTORS / f"package_v{version}.json", VECTORS / f"bundle_v{version}"
    customer = json.loads(package.read_bytes())["customer_id"]
    _open(page, site)
    shown = _check(page, package, _bundle_files(bundle), customer=customer)
    code, lines, _ = _cli_check(package, bundle, customer=customer)
    assert code == EXIT_OK and shown["status"] == "pass"
    assert [shown["headline"], *shown["lines"]] == lines
    assert page.requests == [site.url("check.html")]


def test_a_bundle_with_a_wallet_list_is_a_partial_check_that_says_so(site: Served, page: Recorder) -> None:
    """The page does not verify proofs of control: it says so, and never claims the reserves are proven."""
    package, bundle = VECTORS / "package_v2.json", VECTORS / "bundle_v2"
    _open(page, site)
    shown = _check(page, package, _bundle_files(bundle))
    assert shown["status"] == "partial"
    lines = shown["lines"]
    assert isinstance(lines, list)
    assert any(line.startswith("not proven: PARTIAL CHECK (browser)") and "did NOT verify the wallets' proofs of "
               "control" in line for line in lines)
    assert not any(line.startswith("proven: ") and "proofs of control" in line for line in lines)
