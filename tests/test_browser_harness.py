"""The browser harness records what a page fetches: through the route, the page events, the server and the CSP."""

from __future__ import annotations

from pathlib import Path

from browser import Recorder, Served

PLAIN = """<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>
<body><p id="x">hello</p><input type="file" id="f" multiple>
<script>
document.getElementById("f").addEventListener("change", async (e) => {
  const names = [];
  for (const f of e.target.files) names.push(f.name + ":" + (await f.arrayBuffer()).byteLength);
  document.getElementById("x").textContent = names.join(",");
});
</script></body></html>"""

FETCHING = """<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; connect-src 'none'">
<title>t</title></head><body><img src="http://127.0.0.1:9/pixel.png">
<script>fetch("/data.json").catch(() => {}); document.body.dataset.ran = "1";</script></body></html>"""

LEAKY = """<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>
<body><script>fetch("/data.json").catch(() => {}); fetch("http://example.invalid/x").catch(() => {});</script>
</body></html>"""


def _site(tmp_path: Path, served, html: str) -> Served:
    (tmp_path / "index.html").write_text(html, encoding="utf-8")
    (tmp_path / "data.json").write_text("{}", encoding="utf-8")
    return served(tmp_path)


def test_a_plain_page_makes_one_request_and_reads_uploaded_files(tmp_path: Path, served, page: Recorder) -> None:
    site = _site(tmp_path, served, PLAIN)
    (tmp_path / "a.bin").write_bytes(b"12345")
    (tmp_path / "b.bin").write_bytes(b"")
    page.open(site.url("index.html"))
    page.upload("#f", [tmp_path / "a.bin", tmp_path / "b.bin"])
    page.page.wait_for_function("document.getElementById('x').textContent.includes(',')")
    assert page.page.text_content("#x") == "a.bin:5,b.bin:0"
    assert page.requests == [site.url("index.html")]
    assert page.routed == [site.url("index.html")]
    assert page.violations == [] and page.errors == []
    shot = page.screenshot(tmp_path / "shots" / "plain.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_csp_stops_requests_and_the_harness_sees_the_violations(tmp_path: Path, served, page: Recorder) -> None:
    site = _site(tmp_path, served, FETCHING)
    page.open(site.url("index.html"))
    page.page.wait_for_function("document.body.dataset.ran === '1'")
    page.page.wait_for_function("window.__cspViolations.length >= 2")
    directives = sorted(v["directive"] for v in page.violations)
    assert directives == ["connect-src", "img-src"]
    # The page event sees the attempted image (then failed); the CSP stopped both before the route and the server.
    assert page.requests == [site.url("index.html"), "http://127.0.0.1:9/pixel.png"]
    assert page.routed == [site.url("index.html")]
    assert site.log == ["/index.html"]


def test_without_a_csp_the_harness_records_and_aborts_foreign_requests(
    tmp_path: Path, served, page: Recorder
) -> None:
    site = _site(tmp_path, served, LEAKY)
    page.open(site.url("index.html"))
    page.page.wait_for_function(
        "() => performance.getEntriesByType('resource').length >= 1", timeout=5000
    )
    page.page.wait_for_timeout(200)
    assert site.url("data.json") in page.requests
    assert "http://example.invalid/x" in page.aborted
    assert "/data.json" in site.log
