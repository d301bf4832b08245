"""The package store (``docs/FORMAT.md`` §9, §13): two sinks, one reader, nothing half-written.

* The directory sink writes byte for byte (names, contents, modes) what ``write_bundle`` writes
  today; a SQLite store exported with ``export_all`` is that same directory.
* A sink leaves nothing behind when aborted or when anything fails; it refuses an existing target.
* The reader refuses, as :class:`FormatError` and nothing else, whatever is not a store.
* Memory: 20,000 packages go through each sink and back out without Python holding them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import secrets
import sqlite3
import stat
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circuits.errors import FormatError, InputError
from circuits.text import text_problem
from prover.bundle import ProveOptions, write_bundle
from prover.ledger import load_ledger
from prover.reserves import load_reserves
from prover.store import PackageSink, PackageStore, StoreMeta, open_sink

RUN = (b'{\n  "derivation": "zk-solvency run v2",\n  "exchange": "Store Exchange",\n  "round": "r-1",\n'
       b'  "run_nonce": "' + b"ab" * 32 + b'"\n}\n')
META = StoreMeta("Store Exchange", "r-1", bytes(range(32)), RUN)
IDS = ["cust-000002", "cust-000001", 'quote " inside', '""', "Zoë", "émile", "日本", "a,b", "1", "[red]x[/red]"]


def _name(i: int) -> str:
    return f"{i:032x}.json"


def _entries(ids: list[str]) -> list[tuple[str, str, bytes]]:
    return [(cid, _name(i), json.dumps({"customer_id": cid, "i": i}).encode()) for i, cid in enumerate(ids)]


def _write(path: Path, kind: str, entries: list[tuple[str, str, bytes]], meta: StoreMeta = META) -> Path:
    sink: PackageSink = open_sink(path, kind)  # type: ignore[arg-type]
    with sink:
        for entry in entries:
            sink.add(*entry)
        sink.publish(meta)
    return path


def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under ``root`` (and root itself, as ``.``): its permission bits and, for a file, its bytes."""
    found: dict[str, tuple[int, bytes | None]] = {".": (stat.S_IMODE(root.lstat().st_mode), None)}
    for path in root.rglob("*"):
        mode = path.lstat().st_mode
        found[str(path.relative_to(root))] = (stat.S_IMODE(mode), path.read_bytes() if stat.S_ISREG(mode) else None)
    return found


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".packages-tmp-" in p.name or ".package-tmp-" in p.name)


# ---------------------------------------------------------------------------
# Round trips


def test_a_sqlite_store_exports_to_exactly_what_the_directory_sink_writes(tmp_path: Path) -> None:
    entries = _entries(IDS)
    shuffled = entries[:]
    random.Random(5).shuffle(shuffled)
    _write(tmp_path / "dir", "dir", entries)
    _write(tmp_path / "store", "sqlite", shuffled)
    with PackageStore.open(tmp_path / "store") as store:
        assert store.export_all(tmp_path / "exported") == len(IDS)
        assert store.meta == META and len(store) == len(IDS)
        assert list(store.customer_ids()) == sorted(IDS)
        for cid, name, package in entries:
            assert store.package(cid) == package and store.by_name(name) == package
    assert _tree(tmp_path / "exported") == _tree(tmp_path / "dir")
    tree = _tree(tmp_path / "dir")
    assert tree["."][0] == 0o700
    assert {mode for name, (mode, _) in tree.items() if name != "."} == {0o600}
    assert tree["run.json"][1] == RUN
    assert stat.S_IMODE((tmp_path / "store").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "exported", "store"]  # no journal, no temp


def test_the_order_of_adds_does_not_change_the_directory(tmp_path: Path) -> None:
    entries = _entries(IDS)
    _write(tmp_path / "sorted", "dir", sorted(entries))
    _write(tmp_path / "given", "dir", entries)
    _write(tmp_path / "reversed", "dir", sorted(entries, reverse=True))
    assert _tree(tmp_path / "sorted") == _tree(tmp_path / "given") == _tree(tmp_path / "reversed")


def test_index_csv_quotes_every_id_and_doubles_its_quotes(tmp_path: Path) -> None:
    entries = _entries(IDS)
    _write(tmp_path / "dir", "dir", entries)
    data = (tmp_path / "dir" / "index.csv").read_bytes()
    names = {cid: name for cid, name, _ in entries}
    expected = "customer_id,file\n" + "".join(
        '"' + cid.replace('"', '""') + '",' + names[cid] + "\n" for cid in sorted(IDS)
    )
    assert data == expected.encode("utf-8")
    assert b'"quote "" inside",' in data and b'"""""",' in data and '"日本",'.encode() in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["customer_id", "file"] and dict(rows[1:]) == names


def test_an_empty_store_round_trips(tmp_path: Path) -> None:
    _write(tmp_path / "store", "sqlite", [])
    _write(tmp_path / "dir", "dir", [])
    with PackageStore.open(tmp_path / "store") as store:
        assert len(store) == 0 and list(store.customer_ids()) == []
        assert store.export_all(tmp_path / "exported") == 0
    assert _tree(tmp_path / "exported") == _tree(tmp_path / "dir")
    assert (tmp_path / "dir" / "index.csv").read_bytes() == b"customer_id,file\n"


# The directory write_bundle writes today (prover/bundle.py _write/_write_packages), rebuilt from its files.
PROVE_IDS = ["cust-2", "cust-10", 'say "hi"', "Zoë", "émile", "a,b", "[bold]x"]


def _prove(tmp_path: Path, packages_format: str = "dir", run_nonce: bytes | None = None, name: str = "") -> Path:
    (tmp_path / "reserves.json").write_text(json.dumps({
        "exchange": "Store Exchange", "round": "r-store",
        "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "1000"}, {"symbol": "ETH", "decimals": 18,
                                                                          "reserves": "1000"}],
    }))
    rows = [[cid, "BTC", f"1.{i:08d}"] for i, cid in enumerate(PROVE_IDS)] + [[PROVE_IDS[0], "ETH", "2"]]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([["customer_id", "asset", "amount"], *rows])
    (tmp_path / "ledger.csv").write_text(text.getvalue(), encoding="utf-8")
    spec = load_reserves(tmp_path / "reserves.json")
    options = ProveOptions(chunk=4, jobs=1, packages_format=packages_format,  # type: ignore[arg-type]
                           run_nonce=run_nonce, created="2026-01-31T00:05:00Z")
    result = write_bundle(load_ledger(tmp_path / "ledger.csv", spec), spec, bytes(range(32)),
                          tmp_path / f"bundle{name}", tmp_path / f"packages{name}", options)
    return result.packages_dir


def test_both_sinks_reproduce_the_directory_write_bundle_writes(tmp_path: Path) -> None:
    packages = _prove(tmp_path)
    with (packages / "index.csv").open(encoding="utf-8", newline="") as fh:
        index = list(csv.reader(fh))[1:]
    assert sorted(cid for cid, _ in index) == sorted(PROVE_IDS)
    entries = [(cid, name, (packages / name).read_bytes()) for cid, name in index]
    random.Random(1).shuffle(entries)
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_bytes())
    meta = StoreMeta("Store Exchange", "r-store", bytes.fromhex(manifest["bundle_digest"]),
                     (packages / "run.json").read_bytes())
    _write(tmp_path / "dir", "dir", entries, meta)
    _write(tmp_path / "store", "sqlite", entries, meta)
    with PackageStore.open(tmp_path / "store") as store:
        store.export_all(tmp_path / "exported")
    assert _tree(tmp_path / "dir") == _tree(packages)
    assert _tree(tmp_path / "exported") == _tree(packages)


def test_a_store_write_bundle_writes_exports_to_the_directory_it_writes(tmp_path: Path) -> None:
    """``prove --packages-format sqlite`` then ``export --all`` is ``prove --packages-format dir`` (same run)."""
    packages = _prove(tmp_path)
    nonce = bytes.fromhex(json.loads((packages / "run.json").read_bytes())["run_nonce"])
    store = _prove(tmp_path, "sqlite", nonce, name="-sqlite")
    with PackageStore.open(store) as opened:
        assert opened.meta.run == (packages / "run.json").read_bytes()
        opened.export_all(tmp_path / "exported")
    assert _tree(tmp_path / "exported") == _tree(packages)


def test_export_one_writes_the_exact_package_with_mode_0600(tmp_path: Path) -> None:
    entries = _entries(IDS)
    with PackageStore.open(_write(tmp_path / "store", "sqlite", entries)) as store:
        store.export_one('quote " inside', tmp_path / "one.json")
        assert (tmp_path / "one.json").read_bytes() == entries[2][2]
        assert stat.S_IMODE((tmp_path / "one.json").stat().st_mode) == 0o600
        with pytest.raises(InputError) as caught:
            store.export_one("cust-000001", tmp_path / "one.json")
        assert caught.value.section == str(tmp_path / "one.json")
        with pytest.raises(InputError):
            store.export_one("cust-000001", tmp_path / "missing" / "one.json")
        with pytest.raises(InputError) as unknown:
            store.export_one("nobody", tmp_path / "two.json")
        assert unknown.value.section == "--customer-id"
    assert (tmp_path / "one.json").read_bytes() == entries[2][2]
    assert not (tmp_path / "two.json").exists() and _leftovers(tmp_path) == []


def test_lookups_of_unknown_ids_and_names_are_input_errors(tmp_path: Path) -> None:
    with PackageStore.open(_write(tmp_path / "store", "sqlite", _entries(IDS))) as store:
        with pytest.raises(InputError) as by_id:
            store.package("cust-999")
        assert type(by_id.value) is InputError and by_id.value.section == "--customer-id"
        with pytest.raises(InputError) as by_name:
            store.by_name(_name(999))
        assert type(by_name.value) is InputError and by_name.value.section == "name"


def test_reading_leaves_the_store_untouched(tmp_path: Path) -> None:
    store_path = _write(tmp_path / "store", "sqlite", _entries(IDS))
    before = (store_path.read_bytes(), store_path.stat().st_mtime_ns)
    with PackageStore.open(store_path) as store:
        list(store.customer_ids())
        store.package("Zoë")
        store.export_all(tmp_path / "out")
    assert (store_path.read_bytes(), store_path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "store"]


def test_the_reader_is_read_only(tmp_path: Path) -> None:
    with PackageStore.open(_write(tmp_path / "store", "sqlite", _entries(IDS))) as store:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store._db.execute("DELETE FROM packages")


# ---------------------------------------------------------------------------
# Atomicity and refusing what exists


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_abort_leaves_nothing_and_is_idempotent(tmp_path: Path, kind: str) -> None:
    sink = open_sink(tmp_path / "p", kind)  # type: ignore[arg-type]
    sink.add(*_entries(IDS)[0])
    assert _leftovers(tmp_path) == [f".p.packages-tmp-{os.getpid()}"]
    sink.abort()
    sink.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        sink.add(*_entries(IDS)[1])
    with pytest.raises(RuntimeError):
        sink.publish(META)


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_abort_after_publish_does_nothing(tmp_path: Path, kind: str) -> None:
    sink = open_sink(tmp_path / "p", kind)  # type: ignore[arg-type]
    sink.add(*_entries(IDS)[0])
    sink.publish(META)
    assert sink.path == tmp_path / "p"
    before = _tree(tmp_path)
    sink.abort()
    assert _tree(tmp_path) == before
    with pytest.raises(RuntimeError):
        sink.publish(META)


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_an_exception_mid_write_leaves_no_target_and_no_temporary(tmp_path: Path, kind: str) -> None:
    class Crash(Exception):
        pass

    with pytest.raises(Crash), open_sink(tmp_path / "p", kind) as sink:  # type: ignore[arg-type]
        for i, entry in enumerate(_entries(IDS)):
            sink.add(*entry)
            if i == 4:
                raise Crash
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_a_failed_publish_leaves_nothing(tmp_path: Path, kind: str) -> None:
    sink = open_sink(tmp_path / "p", kind)  # type: ignore[arg-type]
    sink.add(*_entries(IDS)[0])
    with pytest.raises(InputError) as caught:
        sink.publish(StoreMeta("Store Exchange", "r-1", bytes(31), RUN))
    assert caught.value.section == "bundle_digest"
    assert list(tmp_path.iterdir()) == []
    sink.abort()  # still harmless


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_a_target_that_appears_while_writing_is_not_replaced(tmp_path: Path, kind: str) -> None:
    sink = open_sink(tmp_path / "p", kind)  # type: ignore[arg-type]
    sink.add(*_entries(IDS)[0])
    (tmp_path / "p").mkdir()  # an empty directory: os.rename alone would replace it
    with pytest.raises(InputError):
        sink.publish(META)
    assert [p.name for p in tmp_path.iterdir()] == ["p"] and list((tmp_path / "p").iterdir()) == []


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
@pytest.mark.parametrize("what", ["file", "directory", "dangling symlink", "no parent"])
def test_an_existing_target_or_a_missing_parent_is_refused(tmp_path: Path, kind: str, what: str) -> None:
    target = tmp_path / "p"
    if what == "file":
        target.write_bytes(b"keep")
    elif what == "directory":
        target.mkdir()
    elif what == "dangling symlink":
        target.symlink_to(tmp_path / "nowhere")
    else:
        target = tmp_path / "missing" / "p"
    before = _tree(tmp_path)
    with pytest.raises(InputError) as caught:
        open_sink(target, kind)  # type: ignore[arg-type]
    assert type(caught.value) is InputError and caught.value.section == str(target)
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_a_stale_temporary_of_this_pid_is_replaced(tmp_path: Path, kind: str) -> None:
    stale = tmp_path / f".p.packages-tmp-{os.getpid()}"
    stale.mkdir()
    (stale / "junk").write_bytes(b"x")
    _write(tmp_path / "p", kind, _entries(IDS))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        open_sink(tmp_path / "p", "zip")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# What add() refuses


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
def test_duplicate_ids_and_names_are_refused_and_the_sink_stays_usable(tmp_path: Path, kind: str) -> None:
    entries = _entries(IDS)
    with open_sink(tmp_path / "p", kind) as sink:  # type: ignore[arg-type]
        for entry in entries[:3]:
            sink.add(*entry)
        with pytest.raises(InputError) as same_id:
            sink.add(entries[0][0], _name(100), b"{}")  # an earlier id (out of order)
        assert type(same_id.value) is InputError and same_id.value.section == "customer_id"
        with pytest.raises(InputError) as last_id:
            sink.add(entries[2][0], _name(101), b"{}")  # the id just added
        assert last_id.value.section == "customer_id"
        with pytest.raises(InputError) as same_name:
            sink.add("someone else", entries[1][1], b"{}")
        assert type(same_name.value) is InputError and same_name.value.section == "name"
        for entry in entries[3:]:
            sink.add(*entry)
        sink.publish(META)
    _write(tmp_path / "clean", kind, entries)
    if kind == "dir":
        assert _tree(tmp_path / "p") == _tree(tmp_path / "clean")
    else:
        with PackageStore.open(tmp_path / "p") as a, PackageStore.open(tmp_path / "clean") as b:
            a.export_all(tmp_path / "a")
            b.export_all(tmp_path / "b")
        assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


@pytest.mark.parametrize("kind", ["sqlite", "dir"])
@pytest.mark.parametrize(
    ("customer_id", "name", "package", "section"),
    [
        ("", _name(1), b"{}", "customer_id"),
        ("new\nline", _name(1), b"{}", "customer_id"),
        ("bidi\u202e", _name(1), b"{}", "customer_id"),
        ("x" * 257, _name(1), b"{}", "customer_id"),
        ("\ud800", _name(1), b"{}", "customer_id"),
        ("ok", "../escape.json", b"{}", "name"),
        ("ok", "index.csv", b"{}", "name"),
        ("ok", "run.json", b"{}", "name"),
        ("ok", _name(1).upper(), b"{}", "name"),
        ("ok", _name(1), b"x" * ((4 << 20) + 1), "package"),
    ],
    ids=["empty-id", "newline", "bidi", "long-id", "surrogate", "traversal", "index-name", "run-name", "upper-hex",
         "oversized"],
)
def test_invalid_entries_are_refused(
    tmp_path: Path, kind: str, customer_id: str, name: str, package: bytes, section: str
) -> None:
    with open_sink(tmp_path / "p", kind) as sink:  # type: ignore[arg-type]
        with pytest.raises(InputError) as caught:
            sink.add(customer_id, name, package)
        assert type(caught.value) is InputError and caught.value.section == section
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# What the reader refuses: FormatError, and nothing else


def _store(tmp_path: Path, count: int = 300) -> Path:
    ids = [f"cust-{i:06d}" for i in range(count)]
    return _write(tmp_path / "store", "sqlite", [(cid, _name(i), bytes([i % 251]) * 900) for i, cid in enumerate(ids)])


def _sql(*statements: str) -> Callable[[Path], Path]:
    def change(path: Path) -> Path:
        db = sqlite3.connect(path)
        for statement in statements:
            db.execute(statement)
        db.commit()
        db.close()
        return path
    return change


def _truncate(size: Callable[[int], int]) -> Callable[[Path], Path]:
    def change(path: Path) -> Path:
        data = path.read_bytes()
        path.write_bytes(data[: size(len(data))])
        return path
    return change


def _replace(data: bytes) -> Callable[[Path], Path]:
    def change(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return change


def _symlink(path: Path) -> Path:
    link = path.with_name("link")
    link.symlink_to(path)
    return link


def _directory(path: Path) -> Path:
    other = path.with_name("a-directory")
    other.mkdir()
    return other


def _corrupt_page(path: Path) -> Path:
    """Overwrite the header of one leaf page of the packages table (count(*) reads an index, not it)."""
    db = sqlite3.connect(path)
    pages = [p for (p,) in db.execute("SELECT pageno FROM dbstat WHERE name = 'packages' AND pagetype = 'leaf'")]
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    assert len(pages) > 10
    with open(path, "r+b") as fh:
        fh.seek((pages[len(pages) // 2] - 1) * page_size)
        fh.write(b"\xff" * 12)
    return path


MALFORMED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (lambda p: p.with_name("nothing-here"), "file"),
    "symlink": (_symlink, "file"),
    "directory": (_directory, "file"),
    "empty file": (_replace(b""), "database"),
    "random bytes": (_replace(secrets.token_bytes(8192)), "database"),
    "a text file": (_replace(b"customer_id,file\n" * 100), "database"),
    "a package file": (_replace(json.dumps({"format": "zk-solvency-package"}).encode()), "database"),
    "header only": (_truncate(lambda n: 100), "database"),
    "truncated by half": (_truncate(lambda n: n // 2), "database"),
    "truncated by one page": (_truncate(lambda n: n - 4096), "database"),
    "truncated by one byte": (_truncate(lambda n: n - 1), "database"),
    "a trailing byte": (lambda p: _replace(p.read_bytes() + b"\0")(p), "database"),
    "no meta table": (_sql("DROP TABLE meta"), "table meta"),
    "no packages table": (_sql("DROP TABLE packages"), "table packages"),
    "packages is a view": (_sql("ALTER TABLE packages RENAME TO p2",
                                "CREATE VIEW packages AS SELECT * FROM p2"), "table packages"),
    "a missing column": (_sql("ALTER TABLE packages DROP COLUMN package"), "table packages"),
    "an extra column": (_sql("ALTER TABLE packages ADD COLUMN extra TEXT"), "table packages"),
    "no unique customer id": (_sql(
        "CREATE TABLE p2 (name TEXT PRIMARY KEY, customer_id TEXT NOT NULL, package BLOB NOT NULL)",
        "INSERT INTO p2 SELECT * FROM packages", "DROP TABLE packages", "ALTER TABLE p2 RENAME TO packages"),
        "table packages"),
    "wrong format": (_sql("UPDATE meta SET value = 'zk-solvency-bundle' WHERE key = 'format'"), "meta.format"),
    "wrong format_version": (_sql("UPDATE meta SET value = '2' WHERE key = 'format_version'"), "meta.format_version"),
    "no format": (_sql("DELETE FROM meta WHERE key = 'format'"), "meta.format"),
    "no run": (_sql("DELETE FROM meta WHERE key = 'run'"), "meta.run"),
    "an unknown meta key": (_sql("INSERT INTO meta VALUES ('extra', 'x')"), "meta"),
    "a blob meta value": (_sql("UPDATE meta SET value = x'00' WHERE key = 'exchange'"), "meta.exchange"),
    "a bad exchange": (_sql("UPDATE meta SET value = 'a' || char(27) || '[2J' WHERE key = 'exchange'"),
                       "meta.exchange"),
    "a bad digest": (_sql("UPDATE meta SET value = 'ABCD' WHERE key = 'bundle_digest'"), "meta.bundle_digest"),
    "a bad count": (_sql("UPDATE meta SET value = '0300' WHERE key = 'count'"), "meta.count"),
    "count too high": (_sql("UPDATE meta SET value = '301' WHERE key = 'count'"), "meta.count"),
    "count too low": (_sql("DELETE FROM packages WHERE customer_id = 'cust-000007'"), "meta.count"),
    "a corrupt page": (_corrupt_page, "quick_check"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_what_is_not_a_store_is_a_format_error(tmp_path: Path, case: str) -> None:
    change, field = MALFORMED[case]
    path = change(_store(tmp_path))
    with pytest.raises(FormatError) as caught:
        PackageStore.open(path)
    assert type(caught.value) is FormatError
    assert caught.value.section == str(path) and caught.value.field == field, str(caught.value)


def test_every_valid_store_opens(tmp_path: Path) -> None:
    """The control of the cases above: the store they start from is valid, and so is a VACUUMed copy."""
    path = _sql("VACUUM")(_store(tmp_path))
    with PackageStore.open(path) as store:
        assert len(store) == 300


@pytest.mark.parametrize(
    ("statement", "field"),
    [
        ("UPDATE packages SET package = 'text' WHERE customer_id = 'cust-000003'", "packages.package"),
        ("UPDATE packages SET package = zeroblob(4194305) WHERE customer_id = 'cust-000003'", "packages.package"),
        ("UPDATE packages SET name = '../../evil.json' WHERE customer_id = 'cust-000003'", "packages.name"),
        ("UPDATE packages SET customer_id = 'x' || char(10) WHERE customer_id = 'cust-000003'",
         "packages.customer_id"),
    ],
    ids=["text-package", "oversized-package", "traversal-name", "control-in-id"],
)
def test_a_bad_row_is_a_format_error_and_export_all_writes_nothing(tmp_path: Path, statement: str, field: str) -> None:
    path = _sql(statement)(_store(tmp_path))
    with PackageStore.open(path) as store:
        with pytest.raises(FormatError) as caught:
            store.export_all(tmp_path / "out")
        assert type(caught.value) is FormatError and caught.value.field == field
        if field == "packages.package":
            with pytest.raises(FormatError):
                store.package("cust-000003")
        assert store.package("cust-000004") == bytes([4]) * 900
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    assert not (tmp_path / "evil.json").exists()


# ---------------------------------------------------------------------------
# Properties and memory


_IDS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).filter(lambda s: text_problem(s, 256) is None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    packages=st.dictionaries(_IDS, st.binary(max_size=300), max_size=25),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_ids_and_packages_round_trip(packages: dict[str, bytes], seed: int) -> None:
    rng = random.Random(seed)
    entries = [(cid, f"{rng.getrandbits(128):032x}.json", package) for cid, package in packages.items()]
    rng.shuffle(entries)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root / "dir", "dir", entries)
        _write(root / "store", "sqlite", entries)
        with PackageStore.open(root / "store") as store:
            assert list(store.customer_ids()) == sorted(packages)
            for cid, name, package in entries:
                assert store.package(cid) == package == store.by_name(name)
            store.export_all(root / "exported")
        assert _tree(root / "exported") == _tree(root / "dir")
        with (root / "dir" / "index.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["customer_id", "file"] and [r[0] for r in rows[1:]] == sorted(packages)


MANY = 20_000


def _many(order: list[int]) -> Iterator[tuple[str, str, bytes]]:
    """Made on the fly, so the test itself holds no package."""
    for i in order:
        yield f"cust-{i:08d}", _name(i), i.to_bytes(4, "big") * 256  # 1 KiB each: 20 MB in all


def _peak(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded_with_20000_packages(tmp_path: Path) -> None:
    shuffled = list(range(MANY))
    random.Random(3).shuffle(shuffled)
    bound = 4 << 20  # holding the 20 MB of packages (or one Python object per package) would exceed it

    def into_sqlite() -> None:
        with open_sink(tmp_path / "store", "sqlite") as sink:
            for entry in _many(shuffled):
                sink.add(*entry)
            sink.publish(META)

    def into_dir() -> None:
        with open_sink(tmp_path / "dir", "dir") as sink:
            for entry in _many(list(range(MANY))):
                sink.add(*entry)
            sink.publish(META)

    def export() -> None:
        with PackageStore.open(tmp_path / "store") as store:
            assert sum(1 for _ in store.customer_ids()) == MANY
            store.export_all(tmp_path / "exported")

    assert _peak(into_sqlite) < bound
    assert _peak(into_dir) < bound
    assert _peak(export) < bound
    with PackageStore.open(tmp_path / "store") as store:
        assert len(store) == MANY and store.package("cust-00012345") == (12345).to_bytes(4, "big") * 256
    assert (tmp_path / "exported" / "index.csv").read_bytes() == (tmp_path / "dir" / "index.csv").read_bytes()
    assert len(os.listdir(tmp_path / "exported")) == MANY + 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "exported", "store"]
