"""Area of an accelerator: memories (area x instances) + the MAC array (``unit_area`` x MACs) or, for an IMC
array, the IMC macro area of :mod:`cpmap.imc`.

Units are the hardware YAML's own (ZigZag leaves them to the user); for IMC arrays the macro model works in mm^2,
so the memory areas of an IMC YAML are read as mm^2 too.
"""

from __future__ import annotations

from dataclasses import dataclass

from .hardware import Accelerator
from .imc.macro import ImcMacro


@dataclass(frozen=True)
class AreaBreakdown:
    """Per memory level: ``area x instances``; the MAC array; the IMC macro (0 for digital arrays)."""

    memories: tuple[tuple[str, float], ...]
    mac_array: float
    imc_macro: float

    @property
    def total(self) -> float:
        return sum(a for _, a in self.memories) + self.mac_array + self.imc_macro


def accelerator_area(acc: Accelerator) -> AreaBreakdown:
    """Area of ``acc``.

    A memory level counts once per copy on the array (:meth:`Accelerator.instances`: one per combination of the
    array dims it does not serve). A digital array adds ``unit_area`` per MAC unit. An IMC array adds the macro
    area of the IMC model (cells, DACs, ADCs, multipliers, adder trees, accumulators) instead: that area already
    holds the ``cells`` memory (cell groups x cell area), which is therefore not counted again among the
    memories, and it prices the arithmetic, so ``unit_area`` is not used (as in ZigZag's IMC cost model).
    """
    imc = acc.array.imc is not None
    memories = tuple((m.name, m.instance.area * acc.instances(m)) for m in acc.memories if not (imc and m.name == "cells"))
    if imc:
        return AreaBreakdown(memories, 0.0, ImcMacro.from_accelerator(acc).metrics.area_mm2)
    return AreaBreakdown(memories, acc.array.unit_area * acc.array.total_units, 0.0)
