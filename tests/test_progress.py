"""Progress with ETA and the throughput summary (``cli/output.py``)."""

from __future__ import annotations

import io

from rich.console import Console

from cli.output import StageProgress


def test_eta_is_the_rate_so_far_applied_to_what_is_left(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = iter([100.0, 110.0, 130.0])
    monkeypatch.setattr("cli.output.time.monotonic", lambda: next(clock))
    p = StageProgress(None, None)
    p("prove", 0, 100)
    assert p.eta("prove") is None
    p("prove", 25, 100)  # 25 in 10 s
    assert p.eta("prove") == 30.0
    p("prove", 50, 100)  # 50 in 30 s
    assert p.eta("prove") == 30.0
    assert p.summary() == "prove 50 in 30.0 s, 1.7/s"


def test_a_log_gets_plain_lines_with_eta_and_a_last_line(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = iter([0.0, 1.0, 40.0, 41.0, 90.0])
    monkeypatch.setattr("cli.output.time.monotonic", lambda: next(clock))
    buf = io.StringIO()
    p = StageProgress(None, Console(file=buf, width=200), log_every=30.0)
    p("commit", 0, 8)
    p("commit", 1, 8)  # 1 s after the start: no line yet
    p("commit", 4, 8)  # 40 s: a line
    p("commit", 5, 8)  # 1 s later: none
    p("commit", 8, 8)  # done: a last line
    lines = buf.getvalue().splitlines()
    assert lines == [
        "commit 4/8 (50.0%), 0.1/s, 40.0 s elapsed, ETA 40s",
        "commit 8/8 (100.0%), 0.1/s, 90.0 s elapsed, done",
    ]
