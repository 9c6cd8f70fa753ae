"""Workload model: one layer = a perfectly nested loop over named dimensions.

A layer is described the way ZigZag describes it (spec cost_model.md section 1): an equation naming the
output ``O`` and the inputs, the loop dimensions with their sizes, optional affine relations that define
derived (partially relevant) dimensions such as ``IX = stride*OX + dilation*FX``, and the precisions.
Everything the cost model needs about an operand (relevant, irrelevant and partially relevant loops, the
input footprint with stride and dilation, tensor sizes) is derived here once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

Relevance = Literal["r", "ir", "pr"]

#: Canonical order of the usual loop dimensions, used to sort dims in reports and keys.
CANONICAL_DIMS = ("B", "G", "H", "D", "K", "C", "OY", "OX", "FY", "FX")


@dataclass(frozen=True)
class Relation:
    """A derived dimension ``derived = stride * first + dilation * second`` (e.g. IX = 2*OX + 1*FX)."""

    derived: str
    first: str
    second: str
    stride: int = 1
    dilation: int = 1

    def footprint(self, a: int, b: int) -> int:
        """Number of distinct indices ``stride*i + dilation*j`` for ``i < a``, ``j < b`` (ZigZag's closed form).

        The closed form overestimates when ``a < dilation/gcd`` (small first extent with dilation); ZigZag
        uses it as is and so do we, for bit-exact parity.
        """
        g = math.gcd(self.stride, self.dilation)
        return a * b - max(0, b - self.stride // g) * (a - self.dilation // g)


_RELATION_RE = re.compile(
    r"^\s*([A-Za-z]\w*)\s*=\s*(?:(\d+)\s*\*\s*)?([A-Za-z]\w*)\s*\+\s*(?:(\d+)\s*\*\s*)?([A-Za-z]\w*)\s*$"
)


def parse_relation(text: str) -> Relation:
    """Parse ``'ix = 2*ox + 1*fx'`` (coefficients default to 1). Raises ``ValueError`` on bad syntax."""
    m = _RELATION_RE.match(text)
    if not m:
        raise ValueError(f"cannot parse dimension relation {text!r} (expected e.g. 'ix=1*ox+1*fx')")
    derived, s, first, d, second = m.groups()
    return Relation(derived.upper(), first.upper(), second.upper(), int(s or 1), int(d or 1))


_OPERAND_RE = re.compile(r"([A-Z])((?:\[[A-Za-z]\w*\])*)")


def parse_equation(text: str) -> dict[str, tuple[str, ...]]:
    """Parse ``O[k][ox]+=W[k][c][fx]*I[c][ix]`` into ``{'O': ('K','OX'), 'W': (...), 'I': (...)}``.

    The dict is in equation order; the first operand must be the output ``O``.
    """
    compact = text.replace(" ", "").replace("+=", "=")
    if "=" not in compact:
        raise ValueError(f"equation {text!r} has no '='")
    lhs, rhs = compact.split("=", 1)
    operands: dict[str, tuple[str, ...]] = {}
    for part in [lhs] + re.split(r"[*+]", rhs):
        m = _OPERAND_RE.fullmatch(part)
        if not m:
            raise ValueError(f"cannot parse operand {part!r} of equation {text!r}")
        name, idx = m.groups()
        if name in operands:
            raise ValueError(f"operand {name} appears twice in equation {text!r}")
        operands[name] = tuple(i.upper() for i in re.findall(r"\[([A-Za-z]\w*)\]", idx))
    if next(iter(operands)) != "O":
        raise ValueError(f"equation {text!r} must start with the output O")
    return operands


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer of a workload (ZigZag's LayerNode, restricted to what the cost model reads).

    ``loop_sizes`` keeps the layer's own dimension order (it fixes LOMA's prime-factor order).
    ``precision`` has one entry per input operand plus ``O`` (partial sums) and ``O_final``.
    ``pr_sizes`` gives the true size of derived dims when known (ONNX always knows it).
    """

    name: str
    equation: str
    loop_sizes: dict[str, int]
    precision: dict[str, int]
    relations: tuple[Relation, ...] = ()
    pr_sizes: dict[str, int] = field(default_factory=dict)
    padding: dict[str, tuple[int, int]] = field(default_factory=dict)
    operator_type: str = ""
    layer_id: int = 0
    operand_source: dict[str, int] = field(default_factory=dict)

    # ----- operands -------------------------------------------------------------------------------------
    @cached_property
    def operand_indices(self) -> dict[str, tuple[str, ...]]:
        """Index names per operand, in equation order (output first)."""
        return parse_equation(self.equation)

    @property
    def operands(self) -> tuple[str, ...]:
        """Layer operands in equation order, e.g. ``('O', 'W', 'I')``."""
        return tuple(self.operand_indices)

    @property
    def input_operands(self) -> tuple[str, ...]:
        return self.operands[1:]

    @cached_property
    def loop_dims(self) -> tuple[str, ...]:
        return tuple(self.loop_sizes)

    @cached_property
    def relation_of(self) -> dict[str, Relation]:
        """Derived dim name -> its relation."""
        return {r.derived: r for r in self.relations}

    @cached_property
    def relevance(self) -> dict[str, dict[str, Relevance]]:
        """Per operand, per loop dim (size > 1 or listed in the operand): 'r', 'ir' or 'pr' (spec section 1.2)."""
        in_relation = {d for r in self.relations for d in (r.first, r.second)}
        out: dict[str, dict[str, Relevance]] = {}
        for op, idx in self.operand_indices.items():
            cls: dict[str, Relevance] = {}
            derived = [self.relation_of[i] for i in idx if i in self.relation_of]
            if derived:
                for rel in derived:
                    cls[rel.first] = "pr"
                    cls[rel.second] = "pr"
                for d in self.loop_dims:
                    if d in cls or d in in_relation:
                        continue
                    if d in idx:
                        cls[d] = "r"
                    elif self.loop_sizes[d] > 1:
                        cls[d] = "ir"
            else:
                for d in self.loop_dims:
                    if self.loop_sizes[d] > 1 or d in idx:
                        cls[d] = "r" if d in idx else "ir"
            out[op] = cls
        return out

    def pr_relations(self, operand: str) -> tuple[Relation, ...]:
        """The relations of the derived dims in this operand's indices."""
        return tuple(self.relation_of[i] for i in self.operand_indices[operand] if i in self.relation_of)

    def derived_size(self, derived: str) -> int:
        """Total size of a derived dim: given, else footprint of the full loops minus padding."""
        if derived in self.pr_sizes:
            return self.pr_sizes[derived]
        rel = self.relation_of[derived]
        lo, hi = self.padding.get(derived, (0, 0))
        return rel.footprint(self.loop_sizes.get(rel.first, 1), self.loop_sizes.get(rel.second, 1)) - (lo + hi)

    def operand_size(self, operand: str) -> int:
        """Number of elements of an operand tensor (the elements the loops touch, as ZigZag counts them).

        A derived dim counts ``min(derived_size, footprint of the full loops)``: with a given ``pr_sizes`` the
        loops may not reach the last input rows (e.g. a 1x1 stride-2 conv touches 28 of 56 IX), and ZigZag's
        ``operand_size_elem`` counts only the touched ones.
        """
        size = 1
        for i in self.operand_indices[operand]:
            if i in self.relation_of:
                rel = self.relation_of[i]
                full = rel.footprint(self.loop_sizes.get(rel.first, 1), self.loop_sizes.get(rel.second, 1))
                size *= min(self.derived_size(i), full)
            else:
                size *= self.loop_sizes.get(i, 1)
        return size

    @property
    def total_macs(self) -> int:
        return math.prod(self.loop_sizes.values())

    def operand_precision(self, operand: str) -> int:
        """Stored precision of an input, or the final precision of the output."""
        return self.precision["O_final"] if operand == "O" else self.precision[operand]

    def shape_key(self) -> tuple:
        """Everything the cost depends on, so layers with equal keys are solved once."""
        return (
            self.equation.replace(" ", "").replace("+=", "="),
            tuple(self.loop_sizes.items()),
            tuple(sorted(self.precision.items())),
            self.relations,
            tuple(sorted((d, self.derived_size(d)) for d in self.relation_of)),
            self.operator_type,
        )
