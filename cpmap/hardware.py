"""Hardware model: operational array, memory instances with ports, the memory hierarchy.

Mirrors ZigZag's accelerator description (spec cost_model.md section 2). Memories are declared bottom-up;
each memory level stores some of the memory operands ``I1``, ``I2``, ``O``; an operand's chain is the
declaration order filtered to the memories that store it, and its last memory is its top memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from .errors import InputError

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


IMC_TYPES: tuple[str, ...] = ("analog", "digital")


@dataclass(frozen=True)
class ImcParameters:
    """The IMC keys of a ZigZag ``operational_array`` with ``is_imc: true`` (spec imc_model.md section 2.1).

    ``imc_type`` is ``"analog"`` (AIMC: DACs, bitline addition, ADCs) or ``"digital"`` (DIMC: adder trees);
    ``input_precision`` = ``(B_a, B_w)`` activation and weight bits; ``bit_serial_precision`` = ``B_c`` input
    bits per cycle (also the DAC resolution); ``adc_resolution`` = ``R`` (ZigZag's default 0; must be 0 for
    digital, > 0 for analog). The array geometry (wordline dim = first sorted dim, bitline dim = second, macros =
    the rest) stays in :class:`OperationalArray`; the cell group is the ``cells`` memory. The macro model is
    :class:`cpmap.imc.ImcMacro`. Out-of-range values raise :class:`~cpmap.errors.InputError` naming the YAML
    field (``operational_array.<key>``).
    """

    imc_type: str
    input_precision: tuple[int, int]
    bit_serial_precision: int
    adc_resolution: float = 0

    def __post_init__(self) -> None:
        for where, problem in imc_parameter_problems(self):
            raise InputError(None, where, problem)

    @property
    def activation_precision(self) -> int:
        """``B_a``."""
        return self.input_precision[0]

    @property
    def weight_precision(self) -> int:
        """``B_w``."""
        return self.input_precision[1]

    @property
    def is_analog(self) -> bool:
        return self.imc_type == "analog"

    @property
    def cycles_per_op(self) -> float:
        """``T = B_a / B_c``: clock cycles per MAC of a full-precision input (ZigZag's ``cycles_per_op``)."""
        return self.activation_precision / self.bit_serial_precision

    @property
    def values(self) -> dict[str, Any]:
        """The parameters as the YAML keys of ``operational_array`` (defaults filled in)."""
        return {
            "is_imc": True,
            "imc_type": self.imc_type,
            "input_precision": list(self.input_precision),
            "bit_serial_precision": self.bit_serial_precision,
            "adc_resolution": self.adc_resolution,
        }


def _power_of_two(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1 and (x & (x - 1)) == 0


def imc_parameter_problems(p: ImcParameters) -> list[tuple[str, str]]:
    """(field, problem) for each IMC parameter ZigZag 3.9.1's validator (or cpmap, where stricter) rejects.

    cpmap is stricter than ZigZag in two places: ``imc_type`` is required (ZigZag silently treats a missing one as
    digital) and an analog array needs ``adc_resolution > 0`` (ZigZag takes 0 as "no ADC cost"; the original
    ZigZag-IMC requires > 0).
    """
    w = "operational_array"
    out: list[tuple[str, str]] = []
    if p.imc_type not in IMC_TYPES:
        out.append((f"{w}.imc_type", f"must be 'analog' or 'digital', got {p.imc_type!r}"))
    prec = p.input_precision
    if not isinstance(prec, tuple) or len(prec) != 2:
        out.append((f"{w}.input_precision", f"must be [activation bits, weight bits], got {prec!r}"))
        return out
    for i, (b, what) in enumerate(zip(prec, ("activation", "weight"))):
        if not _power_of_two(b):
            out.append((f"{w}.input_precision[{i}]", f"{what} precision must be a power of 2 (1, 2, 4, 8, ...), got {b!r}"))
    bc = p.bit_serial_precision
    if not _power_of_two(bc):
        out.append((f"{w}.bit_serial_precision", f"must be a power of 2 (1, 2, 4, 8, ...), got {bc!r}"))
    elif _power_of_two(prec[0]) and bc > prec[0]:
        out.append((
            f"{w}.bit_serial_precision",
            f"{bc} exceeds the activation precision input_precision[0] = {prec[0]}",
        ))
    r = p.adc_resolution
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r < 0:
        out.append((f"{w}.adc_resolution", f"must be a number >= 0, got {r!r}"))
    elif p.imc_type == "digital" and r != 0:
        out.append((f"{w}.adc_resolution", f"a digital IMC array has no ADC: must be 0 or absent, got {r!r}"))
    elif p.imc_type == "analog" and r == 0:
        out.append((f"{w}.adc_resolution", "an analog IMC array needs an ADC resolution > 0 (bits)"))
    return out


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

    def instances(self, mem: MemoryLevel) -> int:
        """Copies of a memory level on the array: the product of the sizes of the array dims it does not serve."""
        return math.prod(s for d, s in self.array.size_of.items() if d not in mem.served_dimensions)
