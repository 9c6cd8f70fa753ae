"""The SRAM in-memory-computing macro model: structure, area, clock period, peak energy and peak metrics.

Spec: imc_model.md sections 1 and 3-8, 10 (main ZigZag, i.e. zigzag-dse 3.9.1's ``ImcArray``). An IMC core is
``N_m`` identical macros; a macro is an ``N_c x N_r`` grid of cell groups (wordline dim x bitline dim). Each
cell group stores ``M = S / B_w`` weights of ``B_w`` bits. Inputs are processed bit-serially, ``B_c`` bits a
cycle, for ``T = B_a / B_c`` cycles.

Everything here is a pure function of :class:`ImcMacro` (a frozen dataclass); :attr:`ImcMacro.metrics` caches
the result of :func:`macro_metrics`. The per-operation energies that the mapping-dependent layer cost needs are
in :class:`UnitCosts` (``macro.unit``) and the component counts are properties of :class:`ImcMacro`; the layer
formulas themselves (section 7.2) are in :mod:`cpmap.imc.energy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Iterator, Literal

from ..errors import InputError
from .tech import TECH_28NM, TechParams, adc_area, adc_delay, adc_energy, dac_energy

if TYPE_CHECKING:  # pragma: no cover
    from ..hardware import Accelerator

ImcType = Literal["analog", "digital"]

#: Component names, in ZigZag's breakdown order.
AREA_KEYS = ("cells", "dacs", "adcs", "mults", "adders_regular", "adders_pv", "accumulators")
TCLK_KEYS = AREA_KEYS
ENERGY_KEYS = (
    "local_bl_precharging", "dacs", "adcs", "mults", "analog_bl_addition", "adders_regular", "adders_pv",
    "accumulators",
)


def is_power_of_two(x: float) -> bool:
    """True for 1, 2, 4, ... (integers or integral floats)."""
    return x >= 1 and float(x).is_integer() and (int(x) & (int(x) - 1)) == 0


@dataclass(frozen=True)
class Breakdown:
    """Named non-negative-ish components (pJ, mm^2 or ns) in a fixed order, with their sum."""

    items: tuple[tuple[str, float], ...]

    def __getitem__(self, key: str) -> float:
        for k, v in self.items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.items)

    @property
    def total(self) -> float:
        """Sum of the components, added in order (as ZigZag does)."""
        return sum(v for _, v in self.items)

    def as_dict(self) -> dict[str, float]:
        return dict(self.items)


@dataclass(frozen=True)
class UnitCosts:
    """Costs of one component instance, per operation (pJ), its area (mm^2) and its delay (ns)."""

    dac_energy: float  #: one DAC conversion (one row, one cycle)
    adc_energy: float  #: one ADC conversion (one physical bit-column, one cycle)
    mult_energy: float  #: one 1-bit multiplier, one cycle
    bl_energy: float  #: one cell's bitline load, one cycle (analog bitline addition)
    fa_energy: float  #: one fully active 1-bit full adder
    fa_half_energy: float  #: one half-activated 1-bit full adder
    dff_energy: float  #: one 1-bit register write
    adc_area: float
    mult_area: float
    fa_area: float
    dff_area: float
    adc_delay: float
    mult_delay: float
    fa_dly_in2sum: float
    fa_dly_in2cout: float
    fa_dly_cin2cout: float


@dataclass(frozen=True)
class MacroMetrics:
    """Macro-level results (section 10): peak = full utilisation, 100 % switching, no weight updates."""

    tclk_ns: float
    area_mm2: float
    peak_energy_pj: float  #: energy of one clock cycle of the whole core at peak
    macs_per_cycle: float
    tops: float
    tops_per_w: float
    tops_per_mm2: float
    area_breakdown: Breakdown
    tclk_breakdown: Breakdown
    energy_breakdown: Breakdown

    @property
    def fj_per_mac(self) -> float:
        """Peak energy per MAC in fJ, ``2000 / (TOP/s/W)``."""
        return 1000 * self.peak_energy_pj / self.macs_per_cycle

    def to_json(self) -> dict[str, Any]:
        return {
            "tclk_ns": self.tclk_ns,
            "area_mm2": self.area_mm2,
            "tops": self.tops,
            "tops_per_w": self.tops_per_w,
            "tops_per_mm2": self.tops_per_mm2,
            "peak_energy_per_cycle_pj": self.peak_energy_pj,
            "macs_per_cycle": self.macs_per_cycle,
            "fj_per_mac": self.fj_per_mac,
            "area_breakdown_mm2": self.area_breakdown.as_dict(),
            "tclk_breakdown_ns": self.tclk_breakdown.as_dict(),
            "peak_energy_breakdown_pj": self.energy_breakdown.as_dict(),
        }


@dataclass(frozen=True)
class ImcMacro:
    """An IMC core in main ZigZag's template (section 1).

    ``wordline`` = ``N_c`` (output channels per macro), ``bitline`` = ``N_r`` (input channels per macro, summed on
    the bitline or by the adder tree), ``macros`` = ``N_m``. ``cells_size`` = ``S`` bits per cell group;
    ``cells_area`` = area of one cell group (mm^2). Checks what the formulas need and raises
    :class:`~cpmap.errors.InputError` (field names as in the hardware YAML) otherwise; the YAML loader applies
    ZigZag's stricter input rules on top (powers of 2 for every precision, an ADC for analog arrays).
    """

    imc_type: ImcType
    wordline: int
    bitline: int
    macros: int
    activation_precision: int
    weight_precision: int
    bit_serial_precision: int
    adc_resolution: float = 0
    cells_size: int | None = None  #: None = one weight per cell group (``S = B_w``)
    cells_area: float = 0.0
    tech: TechParams = field(default=TECH_28NM, repr=False)

    def __post_init__(self) -> None:
        for problem in _macro_problems(self):
            raise InputError(None, *problem)

    # -- construction ----------------------------------------------------------------------------------------

    @classmethod
    def from_accelerator(cls, acc: "Accelerator") -> "ImcMacro":
        """The macro of an IMC accelerator loaded by :func:`cpmap.io.hardware_yaml.load_accelerator`.

        Wordline dim = first array dim in sorted name order, bitline dim = the second, the rest are macro dims
        (as main ZigZag, which sorts its dimension names as strings). The cell group is the ``cells`` memory.
        """
        array = acc.array
        if array.imc is None:
            raise InputError(None, "operational_array.is_imc", "not an IMC accelerator (is_imc is false)")
        if "cells" not in acc.memory_by_name:
            raise InputError(None, "memories.cells", "an IMC accelerator needs a memory named 'cells'")
        if len(array.dimensions) < 2:
            raise InputError(None, "operational_array.dimensions", "an IMC array needs at least 2 dimensions")
        dims = sorted(array.dimensions)
        size = array.size_of
        cells = acc.memory_by_name["cells"].instance
        p = array.imc
        return cls(
            imc_type=p.imc_type,
            wordline=size[dims[0]],
            bitline=size[dims[1]],
            macros=math.prod(size[d] for d in dims[2:]),
            activation_precision=p.activation_precision,
            weight_precision=p.weight_precision,
            bit_serial_precision=p.bit_serial_precision,
            adc_resolution=p.adc_resolution,
            cells_size=cells.size,
            cells_area=cells.area,
        )

    # -- derived parameters ----------------------------------------------------------------------------------

    @property
    def is_analog(self) -> bool:
        return self.imc_type == "analog"

    @property
    def group_bits(self) -> int:
        """``S``: bits per cell group."""
        return self.weight_precision if self.cells_size is None else self.cells_size

    @property
    def group_depth(self) -> int:
        """``M = S / B_w``: weights stored per cell group."""
        return self.group_bits // self.weight_precision

    @property
    def cycles_per_op(self) -> float:
        """``T = B_a / B_c``: cycles per full-precision input (a float, as ZigZag's ``cycles_per_op``)."""
        return self.activation_precision / self.bit_serial_precision

    @property
    def adder_depth(self) -> int:
        """``d = log2(N_r)``; only meaningful for DIMC (where ``N_r`` is a power of 2)."""
        return int(math.log2(self.bitline))

    @property
    def cell_groups(self) -> int:
        """``N_c * N_r * N_m``: PEs of ZigZag's operational array."""
        return self.wordline * self.bitline * self.macros

    @property
    def macs_per_cycle(self) -> float:
        """Peak MACs per clock cycle of the core."""
        return self.wordline * self.bitline / self.cycles_per_op * self.macros

    # -- component inventory (section 5), per core unless said otherwise ----------------------------------------

    @property
    def n_dacs(self) -> int:
        return self.bitline * self.macros if self.is_analog else 0

    @property
    def n_adcs(self) -> int:
        return self.weight_precision * self.wordline * self.macros if self.is_analog else 0

    @property
    def mults_per_group(self) -> int:
        """1-bit multipliers per cell group: ``B_w`` (AIMC) or ``B_c * B_w`` (DIMC)."""
        return self.weight_precision * (1 if self.is_analog else self.bit_serial_precision)

    @property
    def n_mults(self) -> int:
        return self.mults_per_group * self.cell_groups

    @property
    def regular_tree_width(self) -> int:
        """DIMC regular adder tree output width ``B_w + d`` (0 for AIMC, which has no such tree)."""
        return 0 if self.is_analog else self.weight_precision + self.adder_depth

    @property
    def fa_per_regular_tree(self) -> int:
        """Full adders of one full DIMC regular tree, ``N_r (B_w+1) - (B_w + d + 1)`` (0 for AIMC)."""
        if self.is_analog:
            return 0
        return self.bitline * (self.weight_precision + 1) - (self.weight_precision + self.adder_depth + 1)

    @property
    def n_regular_trees(self) -> int:
        """``B_c * N_c * N_m`` (DIMC)."""
        return 0 if self.is_analog else self.bit_serial_precision * self.wordline * self.macros

    @property
    def pv_inputs(self) -> int:
        """``n_pv``: inputs of a place-value adder tree: ``B_w`` (AIMC) or ``B_c`` (DIMC)."""
        return self.weight_precision if self.is_analog else self.bit_serial_precision

    @property
    def pv_input_width(self) -> float:
        """``p_pv``: input width of the place-value tree: ``R`` (AIMC) or ``B_w + d`` (DIMC)."""
        return self.adc_resolution if self.is_analog else self.regular_tree_width

    @property
    def fa_per_pv_tree(self) -> float:
        """``FA_pv = p_pv (n_pv - 1) + n_pv (log2 n_pv - 0.5)``, 0 when ``n_pv = 1``."""
        n = self.pv_inputs
        if n == 1:
            return 0
        return self.pv_input_width * (n - 1) + n * (math.log2(n) - 0.5)

    @property
    def pv_output_width(self) -> float:
        """``P_pv = n_pv + p_pv`` when ``n_pv > 1``, else ``p_pv``."""
        n = self.pv_inputs
        return self.pv_input_width if n == 1 else n + self.pv_input_width

    @property
    def n_pv_trees(self) -> int:
        """One place-value tree per output channel: ``N_c * N_m``."""
        return self.wordline * self.macros

    @property
    def has_accumulator(self) -> bool:
        """Accumulators shift-add the ``T`` partial results; absent when ``B_c = B_a``."""
        return self.bit_serial_precision != self.activation_precision

    @property
    def accumulator_width(self) -> float:
        """``P_acc``: ``B_a + R + B_w`` (AIMC) or ``B_a + log2(N_r) + B_w`` (DIMC); FAs and DFFs per accumulator."""
        if self.is_analog:
            return self.activation_precision + self.adc_resolution + self.weight_precision
        return self.activation_precision + math.log2(self.bitline) + self.weight_precision

    @property
    def n_accumulators(self) -> int:
        return self.wordline * self.macros if self.has_accumulator else 0

    # -- unit costs ------------------------------------------------------------------------------------------

    @cached_property
    def unit(self) -> UnitCosts:
        """Per-instance energies (pJ per operation), areas (mm^2) and delays (ns) at this macro's parameters."""
        t = self.tech
        r = self.adc_resolution if self.is_analog else 0
        return UnitCosts(
            dac_energy=dac_energy(self.bit_serial_precision, t) if self.is_analog else 0.0,
            adc_energy=adc_energy(r, t),
            mult_energy=t.mult_energy,
            bl_energy=t.bl_energy,
            fa_energy=t.fa_energy,
            fa_half_energy=t.fa_half_energy,
            dff_energy=t.dff_energy,
            adc_area=adc_area(r),
            mult_area=t.mult_area,
            fa_area=t.fa_area,
            dff_area=t.dff_area,
            adc_delay=adc_delay(r, self.bitline),
            mult_delay=t.mult_dly,
            fa_dly_in2sum=t.fa_dly_in2sum,
            fa_dly_in2cout=t.fa_dly_in2cout,
            fa_dly_cin2cout=t.fa_dly_cin2cout,
        )

    @cached_property
    def metrics(self) -> MacroMetrics:
        """Area, tclk, peak energy and peak TOP/s, TOP/s/W, TOP/s/mm^2 (cached :func:`macro_metrics`)."""
        return macro_metrics(self)


# -- the model (pure functions) ------------------------------------------------------------------------------


def area_breakdown(m: ImcMacro) -> Breakdown:
    """Section 6: macro area (mm^2) without the input/output registers."""
    u = m.unit
    acc = 0.0
    if m.has_accumulator:
        bits = m.accumulator_width * m.n_pv_trees
        acc = u.fa_area * bits + u.dff_area * bits
    return Breakdown((
        ("cells", m.cell_groups * m.cells_area),
        ("dacs", 0.0),
        ("adcs", u.adc_area * m.weight_precision * m.wordline * m.macros if m.is_analog else 0.0),
        ("mults", u.mult_area * m.n_mults),
        ("adders_regular", u.fa_area * m.fa_per_regular_tree * m.n_regular_trees if not m.is_analog else 0.0),
        ("adders_pv", u.fa_area * m.fa_per_pv_tree * m.n_pv_trees),
        ("accumulators", acc),
    ))


def tclk_breakdown(m: ImcMacro) -> Breakdown:
    """Section 8: stage delays (ns) along the un-pipelined worst path DAC -> mult -> ADC -> adders -> accumulator."""
    u = m.unit
    regular = 0.0
    if not m.is_analog:
        d = m.adder_depth
        regular = (d - 1) * u.fa_dly_in2sum + u.fa_dly_in2cout + (m.regular_tree_width - 2) * u.fa_dly_cin2cout
    pv = 0.0
    n = m.pv_inputs
    if n > 1:
        pv = (int(math.log2(n)) - 1) * u.fa_dly_in2sum + u.fa_dly_in2cout + (n - 1) * u.fa_dly_cin2cout
    acc = 0.0
    if m.has_accumulator:
        acc = u.fa_dly_in2cout + (m.accumulator_width - m.pv_output_width - 1) * u.fa_dly_cin2cout
    return Breakdown((
        ("cells", 0.0),
        ("dacs", 0.0),
        ("adcs", u.adc_delay if m.is_analog else 0.0),
        ("mults", u.mult_delay),
        ("adders_regular", regular),
        ("adders_pv", pv),
        ("accumulators", acc),
    ))


def peak_energy_breakdown(m: ImcMacro) -> Breakdown:
    """Section 7.1: energy (pJ) of one clock cycle of the whole core at full utilisation, 100 % switching."""
    u = m.unit
    acc = 0.0
    if m.has_accumulator:
        bits = m.accumulator_width * m.n_pv_trees
        acc = u.fa_energy * bits + u.dff_energy * bits
    return Breakdown((
        ("local_bl_precharging", 0.0),
        ("dacs", u.dac_energy * m.n_dacs if m.is_analog else 0.0),
        ("adcs", u.adc_energy * m.n_adcs if m.is_analog else 0.0),
        ("mults", u.mult_energy * m.n_mults),
        ("analog_bl_addition", u.bl_energy * m.weight_precision * m.cell_groups if m.is_analog else 0.0),
        ("adders_regular", u.fa_energy * m.fa_per_regular_tree * m.n_regular_trees if not m.is_analog else 0.0),
        ("adders_pv", u.fa_energy * m.fa_per_pv_tree * m.n_pv_trees),
        ("accumulators", acc),
    ))


def macro_metrics(m: ImcMacro) -> MacroMetrics:
    """Section 10: peak TOP/s, TOP/s/W and TOP/s/mm^2 from tclk, peak energy per cycle and area."""
    area = area_breakdown(m)
    tclk = tclk_breakdown(m)
    energy = peak_energy_breakdown(m)
    macs = m.macs_per_cycle
    tops = macs * 2 / tclk.total / 1000
    return MacroMetrics(
        tclk_ns=tclk.total,
        area_mm2=area.total,
        peak_energy_pj=energy.total,
        macs_per_cycle=macs,
        tops=tops,
        tops_per_w=macs * 2 / energy.total,
        tops_per_mm2=tops / area.total,
        area_breakdown=area,
        tclk_breakdown=tclk,
        energy_breakdown=energy,
    )


def _macro_problems(m: ImcMacro) -> Iterator[tuple[str, str]]:
    """(YAML field, problem) for every parameter the formulas cannot take."""
    oa = "operational_array"
    if m.imc_type not in ("analog", "digital"):
        yield f"{oa}.imc_type", f"must be 'analog' or 'digital', got {m.imc_type!r}"
    for name, v in (("wordline", m.wordline), ("bitline", m.bitline), ("macros", m.macros)):
        if not _pos_int(v):
            yield f"{oa}.sizes", f"{name} size must be a positive integer, got {v!r}"
    for name, v in (
        ("input_precision[0]", m.activation_precision),
        ("input_precision[1]", m.weight_precision),
        ("bit_serial_precision", m.bit_serial_precision),
    ):
        if not _pos_int(v):
            yield f"{oa}.{name}", f"must be a positive integer, got {v!r}"
    if not all(_pos_int(v) for v in (m.activation_precision, m.weight_precision, m.bit_serial_precision)):
        return
    if m.bit_serial_precision > m.activation_precision:
        yield (
            f"{oa}.bit_serial_precision",
            f"{m.bit_serial_precision} exceeds the activation precision input_precision[0] = {m.activation_precision}",
        )
    if isinstance(m.adc_resolution, bool) or not isinstance(m.adc_resolution, (int, float)) or m.adc_resolution < 0:
        yield f"{oa}.adc_resolution", f"must be a number >= 0, got {m.adc_resolution!r}"
    elif m.imc_type == "digital" and m.adc_resolution != 0:
        yield f"{oa}.adc_resolution", f"must be 0 for a digital IMC array, got {m.adc_resolution!r}"
    if m.imc_type == "analog" and m.weight_precision > 1 and not is_power_of_two(m.weight_precision):
        yield f"{oa}.input_precision[1]", f"the place-value adder tree needs a power of 2, got {m.weight_precision}"
    if m.imc_type == "digital":
        if m.bit_serial_precision > 1 and not is_power_of_two(m.bit_serial_precision):
            yield f"{oa}.bit_serial_precision", f"the place-value adder tree needs a power of 2, got {m.bit_serial_precision}"
        if _pos_int(m.bitline) and not is_power_of_two(m.bitline):
            yield f"{oa}.sizes", f"the bitline (adder-tree) size of a digital IMC array must be a power of 2, got {m.bitline}"
    if m.cells_size is not None and (not _pos_int(m.cells_size) or m.cells_size % m.weight_precision):
        yield "memories.cells.size", f"must be a positive multiple of the weight precision {m.weight_precision}, got {m.cells_size!r}"
    if not isinstance(m.cells_area, (int, float)) or isinstance(m.cells_area, bool) or m.cells_area < 0:
        yield "memories.cells.area", f"must be a number >= 0, got {m.cells_area!r}"


def _pos_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1
