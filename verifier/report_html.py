r"""The regulator's report of a bundle verification as one self-contained HTML file (``solvency verify --html``).

The page is rendered from a :class:`~verifier.report.BundleReport` (and, for a failed
run, the error the run failed with); it states nothing the report does not hold. It
needs no JavaScript and loads nothing: the CSS is inline, the Content-Security-Policy
allows that one stylesheet (by its SHA-256) and ``data:`` images (the empty favicon, so the
browser asks for no ``/favicon.ico``) and nothing else (``default-src 'none'``: no script, no
font, no frame, no request), and there is no link to follow.

Every string that came from the bundle, the wallet list or an error message is
HTML-escaped (:func:`html.escape`, quotes included), and the characters a forged
file could use to reorder or hide text (general categories Cc, Cf, Zl, Zp, Cs:
:data:`circuits.text.FORBIDDEN_RANGES`) are shown as visible ``\uXXXX`` escapes, as the
command line shows them.

The output is deterministic: the same report gives the same bytes (no clock, no
random), so two regulators can compare their reports by hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from circuits.errors import ProofError
from circuits.text import FORBIDDEN_RANGES
from verifier.report import AssetReport, BundleReport

__all__ = ["bundle_report_html", "content_security_policy"]

#: The report's stylesheet (inline; the CSP names it by hash).
_CSS: Final[str] = """
:root { color-scheme: light; --ok: #0a6b2d; --bad: #a4161a; --warn: #8a5a00; --line: #c8ccd2; --muted: #555c66; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: #16181d;
  margin: 0 auto; max-width: 72rem; padding: 1.5rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
.sub { color: var(--muted); margin: 0 0 1rem; }
.status { display: inline-block; font-weight: 700; font-size: 1.25rem; padding: .2rem .8rem; border-radius: .3rem;
  color: #fff; }
.status.pass { background: var(--ok); }
.status.fail { background: var(--bad); }
.verdict { border-left: .35rem solid var(--line); padding: .5rem 1rem; margin: 1rem 0; background: #f6f7f9; }
.verdict.pass { border-color: var(--ok); }
.verdict.fail { border-color: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em;
  overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef0f3; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.passed { color: var(--ok); font-weight: 600; }
.failed { color: var(--bad); font-weight: 600; }
.na { color: var(--muted); }
.note { color: var(--muted); font-size: .9em; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .85em; }
@media print { body { padding: 0; } .verdict { break-inside: avoid; } }
"""

#: A check's status cell: passed, or (the run failed before it finished) failed or not reached.
_PASSED: Final = '<span class="passed">passed</span>'
_NOT_PASSED: Final = '<span class="failed">FAILED or not reached</span>'
_NOT_APPLICABLE: Final = '<span class="na">n/a</span>'

_FORBIDDEN_STARTS: Final = [lo for lo, _ in FORBIDDEN_RANGES]


def content_security_policy(css: str = _CSS) -> str:
    """The report's CSP: nothing may load or run; only the inline stylesheet ``css`` (by SHA-256) applies."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; form-action 'none'; base-uri 'none'"


def _forbidden(ch: str) -> bool:
    code = ord(ch)
    k = bisect_right(_FORBIDDEN_STARTS, code) - 1
    return k >= 0 and code <= FORBIDDEN_RANGES[k][1]


def _text(value: object) -> str:
    r"""``str(value)`` escaped for HTML text and attributes, with hidden characters shown as ``\uXXXX``."""
    shown = "".join(
        (f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}") if _forbidden(ch) else ch
        for ch in str(value)
    )
    return html.escape(shown, quote=True)


def _status(ok: bool, applicable: bool = True) -> str:
    if not applicable:
        return _NOT_APPLICABLE
    return _PASSED if ok else _NOT_PASSED


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: frozenset[int] = frozenset()) -> str:
    """A table; ``headers`` are plain text (escaped here), cells are HTML already escaped by the caller."""
    head = "".join(f"<th>{_text(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(report: BundleReport) -> str:
    digest = f"<code>{_text(report.bundle_digest)}</code>" if report.bundle_digest else "(manifest not read)"
    if report.digest_pinned:
        pinned = '<span class="passed">equals the digest the exchange published (given with --digest)</span>'
    else:
        pinned = '<span class="na">not compared: no published digest was given (--digest)</span>'
    rows = [
        ("Exchange", _text(report.exchange) or "(manifest not read)"),
        ("Round (snapshot)", _text(report.round) or "-"),
        ("Bundle created", _text(report.created) or "-"),
        ("Format version", str(report.format_version) if report.format_version else "-"),
        ("Bundle digest", digest),
        ("Published digest", pinned),
    ]
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _verdict(report: BundleReport, proven: str | None, not_proven: str | None, error: ProofError | None) -> str:
    if error is None and report.ok:
        parts = [
            '<div class="verdict pass" id="verdict">',
            '<p><span class="status pass">PASSED</span></p>',
            f"<p><strong>Proven:</strong> {_text(proven)}.</p>" if proven else "",
            f"<p><strong>Not proven:</strong> {_text(not_proven)}.</p>" if not_proven else "",
            "</div>",
        ]
        return "".join(parts)
    kind = error.kind if error is not None else report.failure_kind
    kind_text = {"malformed": "malformed (the bytes do not parse or break a rule of the format)",
                 "false": "false (well formed, but a check fails)",
                 "input": "input (a parameter or input is invalid)"}.get(kind or "", "error")
    message = str(error) if error is not None else (report.failure or "")
    where = [
        ("Kind", _text(kind_text)),
        ("Section", _text(error.section if error is not None else report.failure_section) or "-"),
        ("File", _text(error.file if error is not None else report.failure_file) or "-"),
        ("Field", _text(error.field if error is not None else report.failure_field) or "-"),
        ("Message", f'<span class="mono">{_text(message)}</span>'),
    ]
    return (
        '<div class="verdict fail" id="verdict"><p><span class="status fail">FAILED</span></p>'
        "<p><strong>The bundle did not verify: nothing below is proven unless its check says passed.</strong></p>"
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in where) + "</dl></div>"
    )


def _asset_rows(assets: Sequence[AssetReport], wallets: bool) -> tuple[list[str], list[list[str]], frozenset[int]]:
    headers = ["Asset", "Decimals", "Leaves", "Chunks"]
    if wallets:
        headers += ["Wallets", "Verified on-chain", "Attested", "Basis"]
    headers += ["Reserves", "Liabilities disclosed", "Liabilities ≤ reserves", "Ratio proven"]
    rows = []
    for a in assets:
        row = [
            _text(a.symbol),
            str(a.decimals),
            f"{a.leaf_count:,}",
            f"{a.chunk_count:,} of {a.chunk_size:,} leaves",
        ]
        if wallets:
            row += [
                f"{a.wallet_count:,}",
                "-" if a.reserves_verified is None else _text(a.format_amount(a.reserves_verified)),
                "-" if a.reserves_attested is None else _text(a.format_amount(a.reserves_attested)),
                _text(a.reserves_basis),
            ]
        disclosed = "not disclosed" if a.liabilities_disclosed is None else _text(
            a.format_amount(a.liabilities_disclosed))
        row += [
            _text(a.reserves_display),
            disclosed,
            '<span class="passed">yes</span>' if a.ok else '<span class="failed">not proven</span>',
            f"≥ {_text(a.ratio_display)}" if a.ok else "-",
        ]
        rows.append(row)
    numeric = frozenset(i for i, h in enumerate(headers) if h not in ("Asset", "Basis", "Liabilities ≤ reserves"))
    return headers, rows, numeric


#: The checks of §7 steps 3 to 5 for one asset, in the order the verifier runs them: (name, status cell).
_ASSET_CHECKS: Final[tuple[tuple[str, Callable[[AssetReport], str]], ...]] = (
    ("Leaf records: ordered, unique, canonical; Merkle root equals the manifest's",
     lambda a: _status(a.merkle_root_ok)),
    ("Sum of the leaves equals the liabilities commitment C_L", lambda a: _status(a.sum_ok)),
    ("Every chunk range proof: each balance in [0, 2^64)", lambda a: _status(a.range_proofs_ok)),
    ("Sum tree: every node's commitment and hash follow from its children",
     lambda a: _status(a.nodes_ok, a.sum_tree)),
    ("Sum tree: every node range proof: each subtree sum in [0, 2^128)",
     lambda a: _status(a.node_proofs_ok, a.sum_tree)),
    ("Margin: the debt commitment is the sum of every margin slot's debt", lambda a: _status(a.debt_ok, a.margin)),
    ("Reserves recomputed from the wallet list equal the manifest's",
     lambda a: _status(a.reserves_ok, a.reserves_basis != "declared")),
    ("Solvency proof: reserves ≥ ratio * liabilities", lambda a: _status(a.solvency_ok)),
)


def _bundle_checks(report: BundleReport) -> list[tuple[str, str]]:
    wallets_ok = bool(report.wallets) and all(w["ok"] for w in report.wallets) and not report.wallet_failures
    has_wallets = any(a.reserves_basis != "declared" for a in report.assets)
    rows = [
        ("Manifest parsed; bundle digest recomputed", _status(bool(report.bundle_digest))),
        ("Bundle digest equals the published digest (--digest)",
         _PASSED if report.digest_pinned else '<span class="na">not compared (no --digest)</span>'),
        ("Exactly the listed files, each of its listed size and SHA-256", _status(report.files_ok)),
        ("Every wallet's proof of control (signature over this round's message)",
         _status(wallets_ok, has_wallets)),
    ]
    if report.chains:
        node = all(c["balances"] == "node" for c in report.chains)
        rows.append(("Balances and block hashes confirmed by a node (--eth-rpc)",
                     _PASSED if node and not report.balance_mismatches else (
                         _NOT_PASSED if report.balance_mismatches else
                         '<span class="na">not checked: balances as stated by the exchange</span>')))
    if report.margin is not None:
        m = report.margin
        rows += [
            ("Margin records: parsed, tree root equals the manifest's, each leaf named once", _status(m.records_ok)),
            ("Margin: each asset's debt total is the sum of its slots' debts", _status(m.debt_ok)),
            ("Margin: every account's haircut collateral value covers its debt (range proofs)",
             _status(m.proofs_ok)),
        ]
    return rows


def _wallet_section(report: BundleReport) -> str:
    if not report.chains and not report.wallets:
        if report.assets and report.reserves_declared:
            return (
                "<p>This bundle has no wallet list: its reserves are <strong>declared</strong> by the exchange, "
                "not proven.</p>"
            )
        return "<p>No wallet list was read.</p>"
    parts = []
    if report.chains:
        chain_rows = [
            [
                _text(c["chain"]),
                f"{c['height']:,}",
                f"<code>{_text(c['block_hash'])}</code>",
                "confirmed by a node (--eth-rpc)" if c["balances"] == "node" else "as stated by the exchange",
            ]
            for c in report.chains
        ]
        parts.append(_table(["Chain", "Snapshot height", "Block hash", "Balances"], chain_rows, frozenset({1})))
    if report.wallets:
        by_symbol = {a.symbol: a for a in report.assets}
        wallet_rows = []
        for w in report.wallets:
            asset = by_symbol.get(w["asset"])
            counted = w["counted"] if asset is None else asset.format_amount(w["counted"])
            wallet_rows.append([
                str(w["index"]),
                _text(w["asset"]),
                _text(w["chain"]),
                f"<code>{_text(w['address'])}</code>",
                _text(w["proof_type"]),
                _text(counted),
                _PASSED if w["ok"] else '<span class="failed">FAILED</span>',
            ])
        parts.append(_table(
            ["#", "Asset", "Chain", "Address", "Proof", "Balance counted", "Proof of control"],
            wallet_rows, frozenset({0, 5}),
        ))
    if report.wallet_failures:
        failure_rows = [
            [_text(f["field"]), _text(f["asset"]), f"<code>{_text(f['address'])}</code>", _text(f["kind"]),
             _text(f["reason"])]
            for f in report.wallet_failures
        ]
        parts.append("<h3>Failing wallets</h3>")
        parts.append(_table(["Field", "Asset", "Address", "Kind", "Reason"], failure_rows))
    if report.balance_mismatches:
        mismatch_rows = [
            [_text(m["where"] or "block"), f"<code>{_text(m['address'] or '')}</code>", _text(m["stated"]),
             _text(m["actual"]), _text(m["reason"])]
            for m in report.balance_mismatches
        ]
        parts.append("<h3>Differences reported by a node</h3>")
        parts.append(_table(["Where", "Address", "Stated", "Node", "Reason"], mismatch_rows))
    return "".join(parts)


def _margin_section(report: BundleReport) -> str:
    m = report.margin
    if m is None:
        return ""
    facts = [
        ("Records (padded with dummy accounts)", f"{m.accounts:,}"),
        ("Slots per record", f"{m.slots:,}"),
        ("Tier lines", f"{m.tiers:,}"),
        ("Collateral types", _text(", ".join(m.collateral_types)) or "-"),
        ("Parameters SHA-256", f"<code>{_text(m.params_sha256)}</code>"),
        ("Records root", f"<code>{_text(m.root)}</code>"),
        ("Checked", _status(m.checked)),
    ]
    disclosed = [
        [_text(a.symbol),
         "not disclosed" if a.debt_disclosed is None else _text(a.format_amount(a.debt_disclosed)),
         "not disclosed" if a.collateral_disclosed is None else _text(a.format_amount(a.collateral_disclosed))]
        for a in report.assets if a.margin
    ]
    return (
        '<section id="margin"><h2>Margin accounts</h2><dl class="facts">'
        + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
        + (_table(["Asset", "Total debt disclosed", "Total pledged collateral disclosed"], disclosed,
                  frozenset({1, 2})) if disclosed else "")
        + "</section>"
    )


def bundle_report_html(
    report: BundleReport,
    *,
    proven: str | None = None,
    not_proven: str | None = None,
    error: ProofError | None = None,
) -> str:
    """Return the self-contained HTML report of a bundle verification.

    ``report`` is the verifier's report (on failure, the partial one the error carries);
    ``error`` the error the run failed with (``None``: it passed). ``proven`` and
    ``not_proven`` are the verdict's sentences as ``solvency verify`` prints them (plain text:
    escaped here), shown for a passing run only.
    """
    passed = error is None and report.ok
    title = "Proof of solvency: verification report"
    who = f"{_text(report.exchange)}, round {_text(report.round)}" if report.exchange else "bundle not read"
    wallets = any(a.reserves_basis != "declared" for a in report.assets)
    headers, rows, numeric = _asset_rows(report.assets, wallets)
    assets_html = _table(headers, rows, numeric) if report.assets else "<p>No asset was read.</p>"
    checks_html = (
        _table(["Check (docs/FORMAT.md §7, in order)", *(a.symbol for a in report.assets)],
               [[_text(name), *(cell(a) for a in report.assets)] for name, cell in _ASSET_CHECKS])
        if report.assets else ""
    )
    bundle_checks_html = _table(["Check", "Status"], [[_text(n), s] for n, s in _bundle_checks(report)])
    body = [
        "<header>",
        f"<h1>{title}</h1>",
        f'<p class="sub">{who}</p>',
        "</header>",
        "<main>",
        _verdict(report, proven, not_proven, error),
        '<section id="bundle"><h2>Bundle</h2>', _facts(report), "</section>",
        '<section id="assets"><h2>Assets</h2>', assets_html,
        '<p class="note">Amounts are in whole units of each asset (its decimals shown). The ratio proven is the '
        "minimum ratio of reserves to liabilities the solvency proof establishes; liabilities themselves stay "
        "hidden unless the exchange disclosed them.</p>",
        "</section>",
        '<section id="checks"><h2>Checks</h2>', bundle_checks_html, checks_html,
        "" if passed else '<p class="note">A check shown as "FAILED or not reached" did not pass in this run: '
                          "either it failed (see the failure above) or the run stopped before it.</p>",
        "</section>",
        '<section id="wallets"><h2>Reserves: wallets verified</h2>', _wallet_section(report), "</section>",
        _margin_section(report),
        "</main>",
        "<footer>Written by <code>solvency verify --html</code> (zk-solvency) from the verifier's report of this "
        "run. This file needs no JavaScript and loads nothing: a Content-Security-Policy forbids every request. "
        "docs/FORMAT.md specifies the bundle and the checks.</footer>",
    ]
    status = "PASSED" if passed else "FAILED"
    head = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_text(content_security_policy())}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        '<link rel="icon" href="data:,">'
        f"<title>{status}: {title} ({who})</title>"
        f"<style>{_CSS}</style></head>\n<body>\n"
    )
    return head + "\n".join(body) + "\n</body></html>\n"
