"""SRAM in-memory-computing (IMC) macro model, main ZigZag's (zigzag-dse 3.9.1) formulas (spec imc_model.md).

- :mod:`cpmap.imc.tech`: the 28 nm calibration constants and 1-bit primitives, ADC/DAC fits;
- :mod:`cpmap.imc.macro`: :class:`ImcMacro` (an AIMC or DIMC core), area, clock period, peak energy, peak metrics;
- :mod:`cpmap.imc.energy`: array energy for a given activity (mapped rows/columns, macro activations), the
  building block of the mapping-dependent layer cost;
- :mod:`cpmap.imc.validation`: the 7 silicon chips of ZigZag-IMC's validation, table and bar chart.
"""

from .energy import ArrayActivity, activity_energy, adder_tree_energy, adder_tree_fa_counts, precharge_energy_per_pe
from .macro import (
    Breakdown,
    ImcMacro,
    MacroMetrics,
    UnitCosts,
    area_breakdown,
    macro_metrics,
    peak_energy_breakdown,
    tclk_breakdown,
)
from .tech import TECH_28NM, TechParams

__all__ = [
    "ArrayActivity", "Breakdown", "ImcMacro", "MacroMetrics", "TECH_28NM", "TechParams", "UnitCosts",
    "activity_energy", "adder_tree_energy", "adder_tree_fa_counts", "area_breakdown", "macro_metrics",
    "peak_energy_breakdown", "precharge_energy_per_pe", "tclk_breakdown",
]
