"""Pinning what was published: ``--digest`` (equivocation) and ``--customer-id`` (someone else's package).

A bundle verifies on its own merits, so an exchange could show one bundle to the
regulator and another to some customers (equivocation), or hand a customer a
package made out to another customer whose leaf happens to carry the same
balance. Neither is visible inside a bundle; both are caught by comparing with
what the exchange published (the bundle digest) and with what the customer knows
(their own customer id). ``docs/THREAT_MODEL.md`` explains where the digest must
be published.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bundle_factory import AssetSpec, MadeBundle, make_bundle
from typer.testing import CliRunner

from circuits.errors import VerificationError
from cli.main import app
from verifier.bundle import verify_bundle
from verifier.package import check_package

HOLDINGS = {"alice": 500, "bob": 500, "carol": 7}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    """The bundle the exchange published (its digest is on the public record)."""
    return make_bundle(
        tmp_path_factory.mktemp("published") / "bundle",
        [AssetSpec("BTC", HOLDINGS, reserves=2000, decimals=0, chunk=2)],
    )


@pytest.fixture(scope="module")
def shadow(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    """A second, equally valid bundle for the same exchange and round, shown to some customers only.

    It leaves out carol's debt-free account and is proven against lower reserves: a
    different story told to a different audience.
    """
    return make_bundle(
        tmp_path_factory.mktemp("shadow") / "bundle",
        [AssetSpec("BTC", {"alice": 500, "bob": 500}, reserves=1000, decimals=0, chunk=2)],
        seed=b"shadow seed",
    )


def _write(made: MadeBundle, customer: str, tmp_path: Path) -> Path:
    return made.write_package(customer, tmp_path / f"{customer}.json")


def _json(args: list[str]) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def test_both_bundles_verify_on_their_own(published: MadeBundle, shadow: MadeBundle) -> None:
    """The premise: equivocation is invisible to a verifier that pins nothing."""
    assert verify_bundle(published.path).ok and verify_bundle(shadow.path).ok
    assert published.manifest["bundle_digest"] != shadow.manifest["bundle_digest"]


def test_verify_with_the_published_digest_passes(published: MadeBundle) -> None:
    digest = published.manifest["bundle_digest"]
    assert verify_bundle(published.path, published_digest=bytes.fromhex(digest)).ok
    code, payload = _json(["verify", str(published.path), "--json", "--quiet", "--digest", digest.upper()])
    assert code == 0 and payload["ok"] is True


def test_verify_of_the_shadow_bundle_against_the_published_digest_is_false(
    published: MadeBundle, shadow: MadeBundle
) -> None:
    """The regulator pins the published digest: the shadow bundle fails before any proof is read."""
    digest = published.manifest["bundle_digest"]
    with pytest.raises(VerificationError) as info:
        verify_bundle(shadow.path, published_digest=bytes.fromhex(digest))
    assert type(info.value) is VerificationError and info.value.section == "bundle_digest"
    assert digest in str(info.value)
    code, payload = _json(["verify", str(shadow.path), "--json", "--quiet", "--digest", digest])
    assert code == 1
    assert payload["failure_section"] == "bundle_digest" and payload["failure_kind"] == "false"


@pytest.mark.parametrize("bad", ["00", "g" * 64, "ab" * 33, ""])
def test_a_malformed_digest_option_is_a_usage_error(published: MadeBundle, bad: str) -> None:
    result = CliRunner().invoke(app, ["verify", str(published.path), "--quiet", "--digest", bad])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "64 hex digits" in result.output


def test_customer_shown_the_shadow_bundle_is_caught_by_the_published_digest(
    published: MadeBundle, shadow: MadeBundle, tmp_path: Path
) -> None:
    """Alice is shown the shadow bundle and a matching package; both check out unless she pins the digest."""
    package = _write(shadow, "alice", tmp_path)
    assert check_package(package, shadow.path).ok  # without pinning: consistent, and wrong
    digest = bytes.fromhex(published.manifest["bundle_digest"])
    for bundle in (None, shadow.path):
        with pytest.raises(VerificationError) as info:
            check_package(package, bundle, published_digest=digest)
        assert type(info.value) is VerificationError and info.value.section == "package.bundle_digest"
    code, payload = _json(
        ["check", str(package), "--bundle", str(shadow.path), "--json", "--digest", digest.hex()]
    )
    assert code == 1 and payload["failure_section"] == "package.bundle_digest"


def test_customer_pinning_the_published_digest_passes_and_says_so(published: MadeBundle, tmp_path: Path) -> None:
    package = _write(published, "carol", tmp_path)
    digest = published.manifest["bundle_digest"]
    code, payload = _json(
        ["check", str(package), "--bundle", str(published.path), "--json", "--digest", digest, "--customer-id", "carol"]
    )
    assert code == 0 and payload["ok"] is True
    assert payload["digest_pinned"] is True and payload["customer_id_confirmed"] is True
    assert any(digest in line and "published" in line for line in payload["proven"])
    assert not any("--customer-id" in line or "--digest" in line for line in payload["not_proven"])


def test_unpinned_check_says_what_was_not_pinned(published: MadeBundle, tmp_path: Path) -> None:
    report = check_package(_write(published, "carol", tmp_path), published.path)
    assert not report.customer_id_confirmed and not report.digest_pinned
    assert any("--customer-id" in line for line in report.not_proven)
    assert any("--digest" in line for line in report.not_proven)


def test_a_package_made_out_to_another_customer_is_false(published: MadeBundle, tmp_path: Path) -> None:
    """Bob is handed alice's package (same balance, 500): the leaf is counted once, shown to two people.

    The leaf id binds the customer id, so the exchange cannot relabel alice's package
    for bob; it can only give bob alice's own package, which ``--customer-id`` catches.
    """
    package = _write(published, "alice", tmp_path)
    with pytest.raises(VerificationError) as info:
        check_package(package, published.path, customer_id="bob")
    assert type(info.value) is VerificationError and info.value.section == "package.customer_id"
    code, payload = _json(["check", str(package), "--json", "--customer-id", "bob"])
    assert code == 1 and payload["failure_section"] == "package.customer_id"
    assert check_package(package, published.path, customer_id="alice").customer_id_confirmed
