"""A tiny EVM assembler and the minimal ERC-20 token the --eth-rpc tests deploy.

No Solidity compiler is downloaded at test time: the token is written here in EVM
assembly, and its init code is shipped as ``tests/fixtures/erc20/erc20.hex``
(``tests/test_eth_rpc.py`` checks that this assembler still produces exactly that
file; ``python tests/evm_asm.py`` rewrites it). The layout is described in
``tests/fixtures/erc20/README.md``.

A program is a sequence of items:

* an opcode mnemonic (``"ADD"``, ``"SSTORE"``, ...);
* :class:`Push` ``(value, size)``: ``PUSH<size>`` (the smallest size that fits when omitted);
* :class:`Label` ``(name)``: a ``JUMPDEST`` that :class:`Ref` items can jump to;
* :class:`Ref` ``(name)``: ``PUSH2`` of that label's offset.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "DECIMALS",
    "ERC20_HEX",
    "SELECTORS",
    "TOTAL_SUPPLY",
    "TRANSFER_TOPIC",
    "Label",
    "Push",
    "Ref",
    "assemble",
    "erc20_init_code",
    "erc20_runtime",
]

OPCODES: Final[dict[str, int]] = {
    "STOP": 0x00,
    "ADD": 0x01,
    "SUB": 0x03,
    "LT": 0x10,
    "GT": 0x11,
    "EQ": 0x14,
    "ISZERO": 0x15,
    "SHR": 0x1C,
    "CALLER": 0x33,
    "CALLVALUE": 0x34,
    "CALLDATALOAD": 0x35,
    "CALLDATASIZE": 0x36,
    "CODECOPY": 0x39,
    "POP": 0x50,
    "MSTORE": 0x52,
    "SLOAD": 0x54,
    "SSTORE": 0x55,
    "JUMP": 0x56,
    "JUMPI": 0x57,
    "JUMPDEST": 0x5B,
    "DUP1": 0x80,
    "DUP2": 0x81,
    "DUP3": 0x82,
    "SWAP1": 0x90,
    "LOG3": 0xA3,
    "RETURN": 0xF3,
    "REVERT": 0xFD,
}
_PUSH1: Final[int] = 0x60


@dataclass(frozen=True)
class Push:
    """``PUSH<size> value``; ``size`` None means the smallest of 1..32 bytes that holds the value."""

    value: int
    size: int | None = None


@dataclass(frozen=True)
class Label:
    """A jump target: emits ``JUMPDEST`` and names its offset."""

    name: str


@dataclass(frozen=True)
class Ref:
    """``PUSH2`` of a label's offset (code is below 64 KiB)."""

    name: str


Item = str | Push | Label | Ref


def _push(value: int, size: int | None) -> bytes:
    if value < 0:
        raise ValueError("PUSH of a negative value")
    width = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    if not 1 <= width <= 32 or value >= 1 << (8 * width):
        raise ValueError(f"{value:#x} does not fit PUSH{width}")
    return bytes((_PUSH1 + width - 1,)) + value.to_bytes(width, "big")


def _size(item: Item) -> int:
    if isinstance(item, str):
        return 1
    if isinstance(item, Push):
        return len(_push(item.value, item.size))
    if isinstance(item, Label):
        return 1
    return 3


def assemble(items: Sequence[Item]) -> bytes:
    """Assemble a program into bytecode (two passes: label offsets, then bytes).

    Raises:
        ValueError: On an unknown mnemonic, a duplicate or missing label, or a push that does not fit.
    """
    labels: dict[str, int] = {}
    offset = 0
    for item in items:
        if isinstance(item, Label):
            if item.name in labels:
                raise ValueError(f"label {item.name!r} defined twice")
            labels[item.name] = offset
        elif isinstance(item, str) and item not in OPCODES:
            raise ValueError(f"unknown opcode {item!r}")
        offset += _size(item)
    out = bytearray()
    for item in items:
        if isinstance(item, str):
            out.append(OPCODES[item])
        elif isinstance(item, Push):
            out += _push(item.value, item.size)
        elif isinstance(item, Label):
            out.append(OPCODES["JUMPDEST"])
        else:
            if item.name not in labels:
                raise ValueError(f"label {item.name!r} is not defined")
            out += _push(labels[item.name], 2)
    return bytes(out)


# --- the token ---------------------------------------------------------------------------------

#: Function selectors: the first 4 bytes of keccak256 of the signature (checked in the tests).
SELECTORS: Final[dict[str, int]] = {
    "balanceOf(address)": 0x70A08231,
    "transfer(address,uint256)": 0xA9059CBB,
    "totalSupply()": 0x18160DDD,
    "decimals()": 0x313CE567,
}
#: keccak256("Transfer(address,address,uint256)"), the ERC-20 event topic.
TRANSFER_TOPIC: Final[int] = 0xDDF252AD1BE2C89B69C2B068FC378DAA952BA7F163C4A11628F55A4DF523B3EF
#: The fixed supply minted to the deployer: one million tokens of 18 decimals.
TOTAL_SUPPLY: Final[int] = 10**6 * 10**18
DECIMALS: Final[int] = 18
#: The shipped init code.
ERC20_HEX: Final[Path] = Path(__file__).parent / "fixtures" / "erc20" / "erc20.hex"

_REQUIRE_ADDRESS: Final[tuple[Item, ...]] = ("DUP1", Push(0xA0), "SHR", Ref("revert"), "JUMPI")


def erc20_runtime() -> bytes:
    """The token's runtime code. The balance of address ``a`` is at storage slot ``a``."""
    program: list[Item] = [
        "CALLVALUE",
        Ref("revert"),
        "JUMPI",  # non-payable
        Push(0),
        "CALLDATALOAD",
        Push(0xE0),
        "SHR",  # selector (calldata shorter than 4 bytes reads as zeros: no match)
    ]
    for signature, label in [
        ("balanceOf(address)", "balanceOf"),
        ("transfer(address,uint256)", "transfer"),
        ("totalSupply()", "totalSupply"),
        ("decimals()", "decimals"),
    ]:
        program += ["DUP1", Push(SELECTORS[signature], 4), "EQ", Ref(label), "JUMPI"]
    program += [
        Label("revert"),
        Push(0),
        "DUP1",
        "REVERT",
        # return the word on top of the stack
        Label("return_word"),
        Push(0),
        "MSTORE",
        Push(0x20),
        Push(0),
        "RETURN",
        # balanceOf(address a) -> sload(a)
        Label("balanceOf"),
        Push(0x24),
        "CALLDATASIZE",
        "LT",
        Ref("revert"),
        "JUMPI",
        Push(4),
        "CALLDATALOAD",
        *_REQUIRE_ADDRESS,
        "SLOAD",
        Ref("return_word"),
        "JUMP",
        # transfer(address to, uint256 amount) -> true; reverts if balance(caller) < amount
        Label("transfer"),
        Push(0x44),
        "CALLDATASIZE",
        "LT",
        Ref("revert"),
        "JUMPI",
        Push(4),
        "CALLDATALOAD",
        *_REQUIRE_ADDRESS,  # to
        Push(0x24),
        "CALLDATALOAD",  # to amount
        "CALLER",
        "SLOAD",  # to amount from_balance
        "DUP2",
        "DUP2",
        "LT",
        Ref("revert"),
        "JUMPI",  # from_balance < amount
        "DUP2",
        "SWAP1",
        "SUB",
        "CALLER",
        "SSTORE",  # balance[caller] = from_balance - amount; stack: to amount
        "DUP2",
        "SLOAD",
        "DUP2",
        "ADD",
        "DUP3",
        "SSTORE",  # balance[to] += amount (read after the debit, so a self-transfer is a no-op)
        Push(0),
        "MSTORE",  # memory[0:32] = amount; stack: to
        "CALLER",
        Push(TRANSFER_TOPIC, 32),
        Push(0x20),
        Push(0),
        "LOG3",  # Transfer(caller, to, amount)
        Push(1),
        Ref("return_word"),
        "JUMP",
        Label("totalSupply"),
        Push(TOTAL_SUPPLY),
        Ref("return_word"),
        "JUMP",
        Label("decimals"),
        Push(DECIMALS),
        Ref("return_word"),
        "JUMP",
    ]
    return assemble(program)


def erc20_init_code() -> bytes:
    """The token's init code: mint :data:`TOTAL_SUPPLY` to the deployer, then return the runtime code."""
    runtime = erc20_runtime()

    def prefix(init_length: int) -> bytes:
        return assemble(
            [
                Push(TOTAL_SUPPLY),
                "CALLER",
                "SSTORE",  # balance[deployer] = supply
                Push(TOTAL_SUPPLY),
                Push(0),
                "MSTORE",
                "CALLER",
                Push(0),
                Push(TRANSFER_TOPIC, 32),
                Push(0x20),
                Push(0),
                "LOG3",  # Transfer(0, deployer, supply)
                Push(len(runtime), 2),
                "DUP1",
                Push(init_length, 2),
                Push(0),
                "CODECOPY",  # memory[0:len] = code[init_length:]
                Push(0),
                "RETURN",
            ]
        )

    init_length = len(prefix(0))  # fixed-width pushes: the length does not depend on the values
    return prefix(init_length) + runtime


if __name__ == "__main__":
    ERC20_HEX.write_text(erc20_init_code().hex() + "\n", encoding="ascii")
    sys.stdout.write(f"wrote {ERC20_HEX}\n")
