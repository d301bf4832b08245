"""``solvency packages export`` end to end (CliRunner): exit codes, files written, one escaped line printed.

The stores are built with :mod:`prover.store` directly; ``solvency prove`` writing them is tested with it.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.exit_codes import EXIT_FORMAT, EXIT_INPUT, EXIT_OK, EXIT_USAGE
from cli.main import app
from prover.store import StoreMeta, open_sink

META = StoreMeta("CLI Exchange", "r-cli", bytes(32), b'{"derivation": "zk-solvency run v2"}\n')
IDS = ["alice", 'bob "the builder"', "[red]carol[/red]", "Zoë"]


def _entries() -> list[tuple[str, str, bytes]]:
    return [(cid, f"{i:032x}.json", f'{{"customer_id": {i}}}'.encode()) for i, cid in enumerate(IDS)]


def _store(tmp_path: Path) -> Path:
    with open_sink(tmp_path / "packages.db", "sqlite") as sink:
        for entry in _entries():
            sink.add(*entry)
        sink.publish(META)
    return tmp_path / "packages.db"


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["packages", "export", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    found: dict[str, tuple[int, bytes | None]] = {".": (stat.S_IMODE(root.stat().st_mode), None)}
    for path in root.rglob("*"):
        found[path.name] = (stat.S_IMODE(path.stat().st_mode), path.read_bytes())
    return found


def test_export_one_customer(tmp_path: Path) -> None:
    code, stdout, stderr = _run("--store", _store(tmp_path), "--customer-id", "[red]carol[/red]",
                                "--out", tmp_path / "carol.json")
    assert code == EXIT_OK, stderr
    assert (tmp_path / "carol.json").read_bytes() == _entries()[2][2]
    assert stat.S_IMODE((tmp_path / "carol.json").stat().st_mode) == 0o600
    assert stdout == f"wrote the package of customer [red]carol[/red] to {tmp_path / 'carol.json'}\n"  # markup as typed
    assert stderr == ""


def test_export_all_is_the_directory_the_dir_sink_writes(tmp_path: Path) -> None:
    code, stdout, stderr = _run("--store", _store(tmp_path), "--all", "--out", tmp_path / "exported")
    assert code == EXIT_OK, stderr
    assert stdout == f"wrote 4 packages, index.csv and run.json to {tmp_path / 'exported'}\n"
    with open_sink(tmp_path / "direct", "dir") as sink:
        for entry in _entries():
            sink.add(*entry)
        sink.publish(META)
    assert _tree(tmp_path / "exported") == _tree(tmp_path / "direct")
    assert _tree(tmp_path / "exported")["."][0] == 0o700


def test_an_unknown_customer_is_exit_4(tmp_path: Path) -> None:
    code, stdout, stderr = _run("--store", _store(tmp_path), "--customer-id", "mallory", "--out", tmp_path / "m.json")
    assert code == EXIT_INPUT
    assert stderr.startswith("error: ") and '"mallory"' in stderr and len(stderr.splitlines()) == 1
    assert stdout == "" and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("what", ["random bytes", "truncated", "missing", "directory"])
def test_a_corrupt_or_missing_store_is_exit_3(tmp_path: Path, what: str) -> None:
    store = _store(tmp_path)
    if what == "random bytes":
        store.write_bytes(bytes(range(256)) * 64)
    elif what == "truncated":
        store.write_bytes(store.read_bytes()[:-4096])
    elif what == "missing":
        store.unlink()
    else:
        store.unlink()
        store.mkdir()
    runs: list[list[str | Path]] = [["--customer-id", "alice", "--out", tmp_path / "a.json"],
                                    ["--all", "--out", tmp_path / "all"]]
    for args in runs:
        code, _, stderr = _run("--store", store, *args)
        assert code == EXIT_FORMAT, (args, stderr)
        assert stderr.startswith("error: ") and len(stderr.splitlines()) == 1
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "all").exists()


@pytest.mark.parametrize(
    "flags",
    [[], ["--customer-id", "alice", "--all"]],
    ids=["neither", "both"],
)
def test_exactly_one_of_customer_id_and_all(tmp_path: Path, flags: list[str]) -> None:
    code, _, stderr = _run("--store", _store(tmp_path), *flags, "--out", tmp_path / "x")
    assert code == EXIT_USAGE
    assert "exactly one of --customer-id and --all" in stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("mode", ["one", "all"])
@pytest.mark.parametrize("existing", ["file", "directory"])
def test_an_existing_out_is_refused_with_exit_4(tmp_path: Path, mode: str, existing: str) -> None:
    target = tmp_path / "out"
    if existing == "file":
        target.write_bytes(b"keep")
    else:
        target.mkdir()
    flags = ["--customer-id", "alice"] if mode == "one" else ["--all"]
    code, stdout, stderr = _run("--store", _store(tmp_path), *flags, "--out", target)
    assert code == EXIT_INPUT
    assert "already exists" in stderr and stdout == ""
    assert (target.read_bytes() == b"keep") if existing == "file" else (list(target.iterdir()) == [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "packages.db"]


def test_prove_writes_a_sqlite_store_by_default_that_exports_to_the_directory_run(tmp_path: Path) -> None:
    """``prove`` (default: SQLite) then ``packages export --all`` gives exactly the ``--packages-format dir`` run."""
    import json

    (tmp_path / "ledger.csv").write_text('customer_id,asset,amount\nalice,BTC,1\n"b ""q""",BTC,2\nalice,ETH,3\n')
    (tmp_path / "reserves.json").write_text(json.dumps({
        "exchange": "Store Exchange", "round": "r-store",
        "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "10"},
                   {"symbol": "ETH", "decimals": 9, "reserves": "9"}],
    }))
    (tmp_path / "k").write_bytes(bytes(range(32)))
    common = ["prove", "--ledger", tmp_path / "ledger.csv", "--reserves", tmp_path / "reserves.json", "--secret",
              tmp_path / "k", "--run-nonce", "cd" * 32, "--created", "2026-12-03T00:00:00Z", "--quiet", "--chunk", "2"]
    runner = CliRunner()
    sql = runner.invoke(app, [str(a) for a in [*common, "--out", tmp_path / "b1", "--packages", tmp_path / "p.db"]])
    assert sql.exit_code == EXIT_OK, sql.output
    assert (tmp_path / "p.db").is_file() and "packages export --store" in sql.stdout
    plain = runner.invoke(app, [str(a) for a in [*common, "--out", tmp_path / "b2", "--packages", tmp_path / "p2",
                                                 "--packages-format", "dir"]])
    assert plain.exit_code == EXIT_OK, plain.output
    code, _, err = _run("--store", tmp_path / "p.db", "--all", "--out", tmp_path / "exported")
    assert code == EXIT_OK, err
    assert _tree(tmp_path / "exported") == _tree(tmp_path / "p2")
    code, _, err = _run("--store", tmp_path / "p.db", "--customer-id", 'b "q"', "--out", tmp_path / "one.json")
    assert code == EXIT_OK, err
    index = (tmp_path / "p2" / "index.csv").read_text().splitlines()
    name = next(line.rsplit(",", 1)[1] for line in index if line.startswith('"b ""q"""'))
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "p2" / name).read_bytes()
    # The secrets (blindings, salts, the run nonce) are readable only through the store: mode 0600, and
    # nowhere in the bundle, the command's output, or a leftover temporary or work file.
    assert stat.S_IMODE((tmp_path / "p.db").stat().st_mode) == 0o600
    secrets = [b"cd" * 32]
    for path in (tmp_path / "exported").glob("[0-9a-f]*.json"):
        for entry in json.loads(path.read_bytes())["entries"]:
            secrets += [entry["blinding"].encode(), entry["leaf_salt"].encode()]
    public = b"".join(p.read_bytes() for p in (tmp_path / "b1").iterdir()) + sql.output.encode()
    assert len(secrets) == 7 and not [s for s in secrets if s in public]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "b1", "b2", "exported", "k", "ledger.csv", "one.json", "p.db", "p2", "reserves.json"]
