"""Iteration order of ZigZag's sets of layer dims and array dims, for bit-exact parity.

ZigZag keeps layer dims and array dims in Python sets of objects whose hash is
``sha512(pickle(name)) ^ sha512(pickle(class))``. Where it iterates such a set, the order decides ties
(which unrolling shrinks first under capacity limiting, the order of generated spatial candidates, the
float rounding of products). The order is a pure function of those hashes and the insertion order, so
inserting stand-ins with the same hashes into a CPython set, in the same order, reproduces it.
"""

from __future__ import annotations

import pickle
import struct
from functools import lru_cache
from hashlib import sha512
from typing import Iterable

_MODULE = "zigzag.datatypes"


def _pickled_class(qualname: str) -> bytes:
    """Protocol-4 pickle of a module-level class reference ``zigzag.datatypes.<qualname>``."""
    body = (
        b"\x8c" + bytes([len(_MODULE)]) + _MODULE.encode() + b"\x94"
        + b"\x8c" + bytes([len(qualname)]) + qualname.encode() + b"\x94"
        + b"\x93\x94."
    )
    return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body


@lru_cache(maxsize=None)
def zigzag_hash(name: str, kind: str) -> int:
    """The hash ZigZag gives a ``LayerDim`` (kind ``'LayerDim'``) or ``OADimension`` named ``name``."""
    if kind == "LayerDim":
        name = name.upper()
    h_name = int(sha512(pickle.dumps(name, protocol=4)).hexdigest(), 16)
    h_kind = int(sha512(_pickled_class(kind)).hexdigest(), 16)
    return h_name ^ h_kind


class _Key:
    __slots__ = ("name", "h")

    def __init__(self, name: str, h: int) -> None:
        self.name, self.h = name, h

    def __hash__(self) -> int:
        return self.h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.h == self.h


def set_order(names: Iterable[str], kind: str) -> list[str]:
    """The order in which ZigZag iterates a set built by inserting ``names`` in the given order."""
    keys = {_Key(n, zigzag_hash(n, kind)) for n in names}
    return [k.name for k in keys]
