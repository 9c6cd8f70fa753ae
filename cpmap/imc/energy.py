"""IMC array energy for a given array activity: the building block of the mapping-dependent layer cost.

Spec: imc_model.md sections 7.2 (layer energy terms), 7.4 (partially used adder tree) and 7.8 (local-bitline
precharge), main ZigZag's behaviour. The mapping-dependent part (deriving the mapped rows ``R_m``, mapped columns
``C_m`` and macro activations ``A`` from a spatial mapping, and the precharge count from the temporal mapping)
is *not* here: it belongs to the cost model. This module takes those counts as an :class:`ArrayActivity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .macro import Breakdown, ImcMacro
from .tech import TECH_28NM, TechParams


def adder_tree_fa_counts(active: float, physical: int, width: int) -> tuple[float, float]:
    """(fully active, half active) 1-bit full adders of an RCA adder tree with ``physical`` inputs (a power of 2)
    of ``width`` bits when ``active`` of its inputs carry data (section 7.4).

    A half-active FA has one input held at 0: no carry is generated. ``active >= physical`` is a full tree.
    """
    if active < 1:
        return 0, 0
    depth = int(math.log2(physical))
    if active >= physical:
        return physical * (width + 1) - (width + depth + 1), 0
    full: float = 0
    half: float = 0
    left = active
    base = physical
    while left != 0:
        base = base / 2
        k = int(math.log2(base))
        if left <= 1 and base == 1:
            half += width  # the last single input enters an adder whose other input is 0
            left = 0
        elif left > base:
            full += base * (width + 1) - (width + k + 1) + (width + k)  # whole subtree + its merging adder
            left = left - base
        elif left < base:
            half += width + k  # the merging adder at this level has one idle input
        else:
            full += base * (width + 1) - (width + k + 1)
            half += width + k
            left = 0
    return full, half


def adder_tree_energy(active: float, physical: int, width: int, tech: TechParams = TECH_28NM) -> float:
    """``E_tree(active, physical, width)`` in pJ: energy of one pass through a partially used regular adder tree."""
    full, half = adder_tree_fa_counts(active, physical, width)
    return full * tech.fa_energy + half * tech.fa_half_energy


def precharge_energy_per_pe(m: ImcMacro) -> float:
    """Energy (pJ) of one local-bitline precharge of one cell group, ``(C_wl V^2 + C_bl V^2 M) * B_w``.

    Only cell groups holding more than one weight (``M > 1``) need it. The layer cost multiplies it by the
    number of precharges of one cells instance (``rd_out_to_low / precharge_interval``, section 7.8); ZigZag
    does not multiply by the number of PEs. Note main ZigZag 3.9.1 crashes on this path (AttributeError).
    """
    if m.group_depth <= 1:
        return 0.0
    t = m.tech
    return (t.wl_energy + t.bl_energy * m.group_depth) * m.weight_precision


@dataclass(frozen=True)
class ArrayActivity:
    """How one layer uses the array (section 7.2), normalised to a core with one macro.

    ``mapped_rows`` = ``R_m`` (product of the bitline-dim unrolls, rounded up; 1 if none), ``mapped_cols`` =
    ``C_m`` (product of the wordline-dim unrolls; 1 if none), ``macro_activations`` = ``A`` = layer MACs / the
    MACs per macro activation (unrolls on the wordline and bitline dims only). ``precharge_energy`` is the
    already-priced local-bitline precharge energy of the layer (pJ; see :func:`precharge_energy_per_pe`).
    """

    mapped_rows: float
    mapped_cols: float
    macro_activations: float
    precharge_energy: float = 0.0


def activity_energy(m: ImcMacro, a: ArrayActivity) -> Breakdown:
    """Energy (pJ) of the IMC array for one layer, per component, main ZigZag's formulas (section 7.2).

    Quirks kept: AIMC ``mults`` count the full ``N_c`` with the mapped rows, ``analog_bl_addition`` the mapped
    columns with the full ``N_r``; DIMC ``mults`` always count the full array; the DIMC adder tree has ``R_m``
    active inputs. With ``R_m = N_r``, ``C_m = N_c`` the energy per MAC equals the peak energy per MAC.
    """
    u = m.unit
    cycles = m.cycles_per_op * a.macro_activations  # T * A macro cycles
    rows, cols = a.mapped_rows, a.mapped_cols
    if m.is_analog:
        dacs = u.dac_energy * rows * cycles
        adcs = u.adc_energy * m.weight_precision * cols * cycles
        mults = u.mult_energy * (m.weight_precision * m.wordline * rows) * cycles
        bl = u.bl_energy * m.weight_precision * cols * m.bitline * cycles
        regular = 0.0
    else:
        dacs = adcs = bl = 0.0
        mults = u.mult_energy * (m.bit_serial_precision * m.weight_precision * m.wordline * m.bitline) * cycles
        tree = adder_tree_energy(rows, m.bitline, m.weight_precision, m.tech)
        regular = tree * (m.bit_serial_precision * cols) * cycles
    pv = u.fa_energy * m.fa_per_pv_tree * cols * cycles
    acc = (u.fa_energy + u.dff_energy) * m.accumulator_width * cols * cycles if m.has_accumulator else 0.0
    return Breakdown((
        ("local_bl_precharging", a.precharge_energy),
        ("dacs", dacs),
        ("adcs", adcs),
        ("mults", mults),
        ("analog_bl_addition", bl),
        ("adders_regular", regular),
        ("adders_pv", pv),
        ("accumulators", acc),
    ))
