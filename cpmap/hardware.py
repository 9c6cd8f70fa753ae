"""Hardware model: operational array, memory instances with ports, the memory hierarchy.

Mirrors ZigZag's accelerator description (spec cost_model.md section 2). Memories are declared bottom-up;
each memory level stores some of the memory operands ``I1``, ``I2``, ``O``; an operand's chain is the
declaration order filtered to the memories that store it, and its last memory is its top memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

MemoryOperand = Literal["I1", "I2", "O"]
MEMORY_OPERANDS: tuple[str, ...] = ("I1", "I2", "O")

#: ZigZag's direction tags: tl = read out to the level below, fl = written by the level below,
#: th = read out to the level above, fh = written by the level above.
DIRECTIONS: tuple[str, ...] = ("tl", "fl", "th", "fh")
READ_DIRECTIONS = ("tl", "th")
WRITE_DIRECTIONS = ("fl", "fh")

#: Default layer-operand -> memory-operand links.
DEFAULT_LINKS: dict[str, str] = {"O": "O", "I": "I1", "W": "I2"}


@dataclass(frozen=True)
class Port:
    """A physical memory port; ``allocation`` lists the (memory operand, direction) pairs it carries."""

    name: str
    type: Literal["read", "write", "read_write"]
    bw_min: int
    bw_max: int
    allocation: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MemoryInstance:
    """One memory macro: capacity in bits, energy per word access (word = a port's ``bw_max``)."""

    name: str
    size: int
    r_cost: float
    w_cost: float
    area: float = 0.0
    latency: int = 1


@dataclass(frozen=True)
class MemoryLevel:
    """A memory instance placed in the hierarchy.

    ``operands`` are memory operands in the declared order; ``served_dimensions`` are the array dims one
    instance serves (its fan-out); ``ports`` keep their declared order (it matters for on-loading records).
    """

    instance: MemoryInstance
    operands: tuple[str, ...]
    ports: tuple[Port, ...]
    served_dimensions: tuple[str, ...]
    force_double_buffering: bool = False
    index: int = 0  # declaration position, bottom-up

    @property
    def name(self) -> str:
        return self.instance.name

    @property
    def size(self) -> int:
        return self.instance.size

    @cached_property
    def allocation(self) -> dict[str, dict[str, Port]]:
        """Memory operand -> {direction -> port}, operands in declared order, directions in first-seen order.

        When one (operand, direction) is listed on two ports the later port wins (ZigZag keeps one port per
        direction); the orders fix the order of port activities, which on-loading records depend on.
        """
        out: dict[str, dict[str, Port]] = {op: {} for op in self.operands}
        for p in self.ports:
            for op, direction in p.allocation:
                out[op][direction] = p
        return out

    def port_of(self, memory_operand: str, direction: str) -> Port | None:
        return self.allocation.get(memory_operand, {}).get(direction)

    @cached_property
    def port_duties(self) -> tuple[tuple[Port, tuple[tuple[str, str], ...]], ...]:
        """Per port (declared order, unused ports dropped): the (memory operand, direction) pairs it serves."""
        out = []
        for p in self.ports:
            duties = tuple((op, d) for op, dirs in self.allocation.items() for d, q in dirs.items() if q is p)
            if duties:
                out.append((p, duties))
        return tuple(out)


@dataclass(frozen=True)
class ImcParameters:
    """Parameters of an in-memory-computing operational array (used by the IMC model, spec imc_model.md)."""

    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OperationalArray:
    """The MAC array: named dims with sizes, energy and area per unit."""

    unit_energy: float
    unit_area: float
    dimensions: tuple[str, ...]
    sizes: tuple[int, ...]
    systolic_dimensions: tuple[str, ...] = ()
    imc: ImcParameters | None = None

    @cached_property
    def size_of(self) -> dict[str, int]:
        return dict(zip(self.dimensions, self.sizes))

    @property
    def total_units(self) -> int:
        return math.prod(self.sizes)


@dataclass(frozen=True, eq=False)
class Accelerator:
    """A core: operational array plus memory levels declared bottom-up."""

    name: str
    array: OperationalArray
    memories: tuple[MemoryLevel, ...]

    @cached_property
    def chains(self) -> dict[str, tuple[MemoryLevel, ...]]:
        """Memory operand -> its memory levels, bottom (level 0) to top."""
        return {op: tuple(m for m in self.memories if op in m.operands) for op in MEMORY_OPERANDS}

    def chain(self, memory_operand: str) -> tuple[MemoryLevel, ...]:
        return self.chains.get(memory_operand, ())

    def top_memory(self, memory_operand: str) -> MemoryLevel:
        return self.chains[memory_operand][-1]

    @cached_property
    def memory_by_name(self) -> dict[str, MemoryLevel]:
        return {m.name: m for m in self.memories}
