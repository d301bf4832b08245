r"""Margin accounts, prover side (format version 4; ``circuits/notes/42-margin.md``, ``docs/FORMAT.md`` §14, §9).

The bundle pipeline (:mod:`prover.bundle`) calls :func:`plan_margin` once it has read the
inputs and derived the run's secrets. The plan fixes, before any leaf is committed:

* the **accounts**: the real accounts of :func:`prover.margin_inputs.margin_accounts` (every
  customer with a non-zero debt or collateral cell, each already checked against condition (M)),
  then ``M - n`` *dummy* accounts, ``M`` the next power of two (or ``--margin-pad-to``); the
  records are sorted by record id (a keyed hash, so their order says nothing);
* each account's ``S`` **slots**, by asset position: a real account's slots name the customer's
  own leaf in each asset it uses (non-zero debt or collateral); the others (and all of a dummy
  account's) are *dummy slots*: an asset the account does not use, picked with a key derived
  from the run's secrets (:meth:`~prover.keys.RunSecrets.margin_slot_key`), and a fresh zero
  padding leaf of that asset (padding leaf ``j``, numbered per asset in record order);
* which leaves carry a **margin leaf id** (``SHA256(tag || record_id || frame(S))``, §14.4)
  instead of the ordinary one: every slot's leaf, real or dummy;
* a last refusal: an account whose proof would be impossible (a value of its exact value list
  outside ``[0, 2^64)``) is an :class:`~circuits.errors.InputError` naming the customer, before
  anything is written (the inputs' check refuses (M) and the bounds it knows first).

The workers (:mod:`prover.tasks`) commit each account's record and prove its parts from an
:class:`AccountRef` (public positions and the plain amounts), deriving every blinding from the
master secret as the leaves' are (:func:`account_secrets`); the coordinator derives the same
blindings for the packages and the per-asset sums. Nothing here prints or logs an amount.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from circuits.backends import GroupBackend
from circuits.encoding import frame
from circuits.errors import InputError, WitnessError
from circuits.generators import PedersenGens
from circuits.limits import MAX_MARGIN_ACCOUNTS, RANGE_BITS
from circuits.margin import (
    MarginParams,
    MarginPartStatement,
    MarginRecord,
    SlotAmounts,
    SlotBlindings,
    account_excess,
    commit_record,
    dummy_slot,
    margin_record_id,
    slot_amounts,
    split_excess,
    value_openings,
)
from circuits.relations import Opening
from prover.keys import RunSecrets, margin_account_key
from prover.margin_inputs import MarginAccounts
from prover.range_proof import prove_range

__all__: list[str] = []

#: Roles of :meth:`~prover.keys.RunSecrets.margin_blinding` (``MARGIN_ROLES``).
_D, _W, _V, _H, _LO = range(5)


@dataclass(frozen=True)
class SlotRef:
    """One slot of a margin account: its asset (manifest position) and leaf, and the slot's plain amounts.

    ``dummy_leaf`` is ``None`` for a real slot (the customer's own leaf of the asset, ledger row
    ``row``) and the padding leaf's number ``j`` for a dummy slot (every amount 0). ``leaf`` is the
    leaf's index in the asset's sorted leaves (``-1`` until the asset is prepared). Holds amounts:
    never log it.
    """

    asset: int
    dummy_leaf: int | None
    equity: int
    debt: int
    collateral: tuple[int, ...]
    leaf: int = -1
    row: int = -1

    def __repr__(self) -> str:
        return f"SlotRef(asset={self.asset}, leaf={self.leaf}, dummy={self.dummy_leaf is not None}, <secret>)"


@dataclass(frozen=True)
class AccountRef:
    """A margin account as its tasks name it: a customer id (real) or dummy number, and its ``S`` slots."""

    customer_id: str | None
    dummy: int
    slots: tuple[SlotRef, ...]

    @property
    def key(self) -> bytes:
        """The bytes naming the account in its derivations (:func:`prover.keys.margin_account_key`)."""
        return margin_account_key(self.customer_id, self.dummy)

    def __repr__(self) -> str:
        return f"AccountRef(dummy={self.customer_id is None}, slots={len(self.slots)}, <secret>)"


@dataclass(frozen=True)
class AccountSecrets:
    """An account's openings (prover side): the slots' amounts and blindings, the leaves' blindings, ``lo``."""

    record_id: bytes
    margin_salt: bytes | None
    amounts: tuple[SlotAmounts, ...]
    blindings: tuple[SlotBlindings, ...] = field(repr=False)
    leaf_blindings: tuple[int, ...] = field(repr=False)
    lo: Opening = field(repr=False)

    def openings(self, params: MarginParams) -> list[Opening]:
        """The ``Q`` openings of the account's value list (FORMAT §14.4 order)."""
        return value_openings(
            params, list(zip(self.amounts, self.blindings, strict=True)), list(self.leaf_blindings), self.lo
        )


@dataclass(frozen=True)
class MarginPlan:
    """The margin accounts of a run (records in order) and what the leaves of each asset need from them."""

    params: MarginParams
    accounts: tuple[AccountRef, ...]
    record_ids: tuple[bytes, ...]
    real: int
    #: Per asset (manifest order): ledger row -> record id, for the rows that are a slot's leaf.
    slot_rows: tuple[dict[int, bytes], ...] = field(repr=False)
    #: Per asset: padding leaf j -> record id of the dummy slot naming it (j = 0 .. len - 1).
    dummy_leaves: tuple[tuple[bytes, ...], ...] = field(repr=False)

    def with_leaves(self, positions: Sequence[tuple[dict[int, int], dict[int, int]]]) -> MarginPlan:
        """Return the plan with every slot's ``leaf`` set: ``positions[a] = (row -> index, padding j -> index)``."""
        accounts = []
        for account in self.accounts:
            slots = []
            for s in account.slots:
                rows, dummies = positions[s.asset]
                if s.dummy_leaf is None:
                    slots.append(replace(s, leaf=rows[s.row]))
                else:
                    slots.append(replace(s, leaf=dummies[s.dummy_leaf]))
            accounts.append(replace(account, slots=tuple(slots)))
        return replace(self, accounts=tuple(accounts))


# ---------------------------------------------------------------------------
# Amounts and secrets of one account


def account_amounts(params: MarginParams, account: AccountRef) -> tuple[SlotAmounts, ...]:
    """Return the slots' honest amounts (:func:`circuits.margin.slot_amounts`; a dummy slot's are 0)."""
    return tuple(
        dummy_slot(params, s.asset, s.leaf) if s.dummy_leaf is not None
        else slot_amounts(params, s.asset, s.leaf, s.equity, s.debt, s.collateral)
        for s in account.slots
    )


def account_secrets(
    params: MarginParams, secrets: RunSecrets, round_label: str, account: AccountRef
) -> AccountSecrets:
    """Derive the account's record id, salt and every blinding (FORMAT §9), and its amounts.

    Raises:
        WitnessError: an amount is negative or the collateral exceeds the equity (refused at plan time).
    """
    key = account.key
    if account.customer_id is None:
        salt = None
        record_id = secrets.margin_dummy_id(account.dummy)
    else:
        salt = secrets.margin_salt(account.customer_id)
        record_id = margin_record_id(round_label, account.customer_id, salt)
    blindings = []
    leaves = []
    for i, s in enumerate(account.slots):
        symbol = params.assets[s.asset].symbol
        kinds = range(len(params.collateral_types))
        blindings.append(
            SlotBlindings(
                d=secrets.margin_blinding(key, i, _D, 0),
                w=secrets.margin_blinding(key, i, _W, 0),
                v=tuple(secrets.margin_blinding(key, i, _V, k) for k in kinds),
                h=tuple(secrets.margin_blinding(key, i, _H, k) for k in kinds),
            )
        )
        if s.dummy_leaf is None:
            assert account.customer_id is not None
            leaves.append(secrets.leaf(symbol, account.customer_id)[0])
        else:
            leaves.append(secrets.dummy(symbol, s.dummy_leaf)[0])
    amounts = account_amounts(params, account)
    lo, _ = split_excess(account_excess(params, amounts))
    return AccountSecrets(
        record_id, salt, amounts, tuple(blindings), tuple(leaves), Opening(lo, secrets.margin_blinding(key, 0, _LO, 0))
    )


def commit_account(params: MarginParams, acc: AccountSecrets, backend: GroupBackend) -> MarginRecord:
    """Return the account's record: ``D, W, V_k, H_k`` per slot and ``Lo``, committed with its blindings."""
    return commit_record(
        params, acc.record_id, list(zip(acc.amounts, acc.blindings, strict=True)), acc.lo,
        PedersenGens.default(backend),
    )


def prove_group(
    params: MarginParams,
    accounts: Sequence[AccountSecrets],
    secrets: RunSecrets,
    *,
    exchange: str,
    round_label: str,
    group: int,
    margin_root: bytes,
    backend: GroupBackend,
) -> bytes:
    """Return group ``group``'s proofs (records ``group*G ..``): one aggregated 64-bit range proof per part (§14.4)."""
    assert len(accounts) == params.group_size
    openings = [o for acc in accounts for o in acc.openings(params)]
    out = []
    for p, statement in enumerate(MarginPartStatement.parts_of(params, exchange, round_label, margin_root, group)):
        offset, size = statement.offset, statement.size
        entropy = secrets.proof_entropy("", "margin", group * 16 + p)
        _, proof = prove_range(
            openings[offset : offset + size], RANGE_BITS, context=statement.context(), backend=backend,
            rng=_fixed(entropy), threads=1,
        )
        out.append(proof.to_bytes())
    return b"".join(out)


def _fixed(entropy: bytes) -> Callable[[int], bytes]:
    """A range prover's ``rng`` returning the derived ``entropy`` (the proof's seed also binds its statement)."""
    return lambda _n: entropy


# ---------------------------------------------------------------------------
# The plan


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _pick(
    key: bytes, candidates: Sequence[int], symbols: Sequence[str], count: int, room: list[int] | None = None
) -> list[int]:
    """``count`` of ``candidates`` (asset positions), the ones of smallest ``HMAC(key, frame(symbol))``.

    With ``room`` (per asset, the padding leaves still free below its padded leaf count), assets with room
    come first, and each pick takes one of its asset's room: a dummy slot then reuses a padding leaf the
    asset has anyway, and grows the asset's tree only when no candidate has room left.
    """
    ranked = sorted(
        candidates,
        key=lambda a: (room is not None and room[a] <= 0, hmac.digest(key, frame(symbols[a].encode()), "sha256")),
    )
    picked = ranked[:count]
    if room is not None:
        for a in picked:
            room[a] -= 1
    return sorted(picked)


def _check_account(params: MarginParams, ledger_name: str, account: AccountRef) -> None:
    """Refuse an account whose proof would be impossible: a value of its list outside ``[0, 2^64)``.

    :func:`prover.margin_inputs.margin_accounts` has refused condition (M) and the bounds it knows;
    this is the prover's last check with the exact value list, before anything is written.
    """
    assert account.customer_id is not None
    amounts = account_amounts(params, account)
    zero = SlotBlindings(d=0, w=0, v=(0,) * params.types, h=(0,) * params.types)
    try:
        lo, _ = split_excess(account_excess(params, amounts))
        value_openings(params, [(a, zero) for a in amounts], [0] * len(amounts), Opening(lo, 0))
    except WitnessError as exc:
        field_name = f"customer {account.customer_id}"
        raise InputError(
            f"{ledger_name}: {field_name}: no margin proof exists for this account ({exc}); no bundle written",
            section=f"{ledger_name}:{field_name}", file=ledger_name, field=field_name,
        ) from None


def plan_margin(
    margin: MarginAccounts,
    round_label: str,
    secrets: RunSecrets,
    *,
    ledger_name: str = "ledger.csv",
    pad_to: int | None = None,
    room: Sequence[int] | None = None,
) -> MarginPlan:
    """Decide the records: the real accounts' slots, the dummy slots and accounts, the record order.

    ``margin`` is :func:`prover.margin_inputs.margin_accounts`'s result (every account checked there);
    ``pad_to`` is ``--margin-pad-to``: the record count ``M`` [default: ``margin.params.accounts``, the
    next power of two of the number of accounts, at least 1]; ``room`` is, per asset (manifest position),
    the number of padding leaves its leaf count has without margin: dummy slots go to assets with room
    first (:func:`_pick`), so they do not grow an asset's tree while another has free padding.

    Raises:
        InputError: a ``pad_to`` that is not a power of two of at least the account count (or above
            ``2^24``); an account for which no proof exists (:func:`_check_account`, named).
    """
    params = margin.params
    count = len(margin)
    if pad_to is not None:
        if pad_to < max(count, 1) or pad_to & (pad_to - 1) or pad_to > MAX_MARGIN_ACCOUNTS:
            raise InputError(
                f"--margin-pad-to {pad_to} must be a power of two in [{max(count, 1)}, 2^24] "
                f"(at least the {count} margin accounts)",
                section="--margin-pad-to",
            )
        params = replace(params, accounts=pad_to)
    symbols = [a.symbol for a in params.assets]
    slots, kinds = params.slots, params.types
    everything = list(range(len(symbols)))
    free = None if room is None else list(room)
    accounts: list[tuple[bytes, AccountRef]] = []
    for real in margin.accounts:
        key = margin_account_key(real.customer_id)
        used = {s.asset for s in real.slots}
        extra = _pick(secrets.margin_slot_key(key), [a for a in everything if a not in used], symbols,
                      slots - len(used), free)
        refs = [SlotRef(s.asset, None, s.equity, s.debt, s.collateral, row=s.row) for s in real.slots]
        refs += [SlotRef(a, 0, 0, 0, (0,) * kinds) for a in extra]
        account = AccountRef(real.customer_id, 0, tuple(sorted(refs, key=lambda r: r.asset)))
        _check_account(params, ledger_name, account)
        salt = secrets.margin_salt(real.customer_id)
        accounts.append((margin_record_id(round_label, real.customer_id, salt), account))
    for j in range(params.accounts - count):
        key = margin_account_key(None, j)
        picked = _pick(secrets.margin_slot_key(key), everything, symbols, slots, free)
        accounts.append(
            (secrets.margin_dummy_id(j), AccountRef(None, j, tuple(SlotRef(a, 0, 0, 0, (0,) * kinds) for a in picked)))
        )
    accounts.sort(key=lambda item: item[0])
    if len({rid for rid, _ in accounts}) != len(accounts):
        raise WitnessError("two margin records share a record id")
    slot_rows: list[dict[int, bytes]] = [{} for _ in symbols]
    dummy_leaves: list[list[bytes]] = [[] for _ in symbols]
    ordered = []
    for record_id, account in accounts:
        refs = []
        for s in account.slots:
            if s.dummy_leaf is None:
                slot_rows[s.asset][s.row] = record_id
                refs.append(s)
            else:
                refs.append(replace(s, dummy_leaf=len(dummy_leaves[s.asset])))
                dummy_leaves[s.asset].append(record_id)
        ordered.append(replace(account, slots=tuple(refs)))
    return MarginPlan(
        params, tuple(ordered), tuple(rid for rid, _ in accounts), count, tuple(slot_rows),
        tuple(tuple(d) for d in dummy_leaves),
    )
