"""Mapping-dependent cost of one layer on an IMC core, main ZigZag's (zigzag-dse 3.9.1) behaviour.

Spec: imc_model.md sections 7.2 (layer energy), 7.3 (mapped rows/columns, diagonal mapping), 7.8 (local-bitline
precharge) and 11 (integration with the generic cost model). ZigZag's IMC cost model differs from the digital one
in three places only, and this module supplies exactly those:

* the MAC energy is the macro's array energy for the layer's *spatial* mapping (:func:`imc_layer_cost`), not
  ``unit_energy x MACs``. Only the local-bitline precharge (cell groups holding more than one weight) depends on
  the temporal mapping (:func:`precharge_energy`);
* every cycle count of the latency model is scaled by ``cycles_per_op = B_a / B_c`` (bit-serial inputs);
* the clock period is the macro's ``tclk`` (the latency itself stays in cycles, as ZigZag reports it).

Weight (re)loading into the cells is *not* here: the ``cells`` memory is an ordinary memory level, so its writes
(``w_cost``), the reads from the level above and the stalls of reloading are priced by the generic memory model.

Everything is a pure function; the cost model calls :func:`imc_layer_cost` once per (layer, spatial mapping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..hardware import Accelerator
from ..mapping import SpatialMapping
from ..workload import Layer
from ..zigzag_order import set_order
from .energy import ArrayActivity, activity_energy, precharge_energy_per_pe
from .macro import Breakdown, ImcMacro


@dataclass(frozen=True)
class MappedArray:
    """How a spatial mapping occupies one macro (section 7.2/7.3).

    ``rows`` = ``R_m`` (mapped rows incl. the extra rows of a diagonal mapping, rounded up), ``rows_for_adder`` =
    ``R_add`` (rows feeding the adder tree; main ZigZag computes but never uses it), ``cols`` = ``C_m``,
    ``activations`` = ``A`` (layer MACs / MACs per macro activation, unrolls on the macro dims excluded).
    ``zigzag_failures`` lists the cases where ZigZag 3.9.1 raises instead of returning a value.
    """

    rows: float
    rows_for_adder: float
    cols: float
    activations: float
    zigzag_failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImcLayerCost:
    """The temporal-mapping-independent IMC part of one (layer, spatial mapping) cost."""

    macro: ImcMacro
    mapped: MappedArray
    #: array energy per component (pJ), ZigZag's ``mac_energy_breakdown`` without the precharge term
    breakdown: Breakdown
    #: sum of :attr:`breakdown` (ZigZag's ``mac_energy`` when the cells hold one weight each)
    energy: float
    #: ``B_a / B_c``: clock cycles per MAC of a full-precision input, ZigZag's ``cycles_per_op``
    cycles_per_op: float
    #: the macro's clock period (ns), ZigZag's ``tclk``
    tclk_ns: float
    #: energy of one local-bitline precharge of one cell group (0 when a cell group holds one weight)
    precharge_per_pe: float
    #: the weight layer operand (its level-0 loops set the precharge interval)
    weight_operand: str

    @property
    def zigzag_failures(self) -> tuple[str, ...]:
        """Where ZigZag 3.9.1 would raise for this (layer, spatial mapping) instead of returning a cost."""
        out = list(self.mapped.zigzag_failures)
        if self.precharge_per_pe:
            out.append("IMC cell groups hold more than one weight: ZigZag 3.9.1 raises AttributeError "
                       "(data_elem_move_count) in its precharge model")
        return tuple(out)


# --------------------------------------------------------------------------------------------------------------
# operand roles
# --------------------------------------------------------------------------------------------------------------


def constant_operands(layer: Layer) -> list[str]:
    """Input operands fed by no other layer (ZigZag: operand source = the layer's own id), in source order.

    Without recorded sources (hand-written layers) an operand named ``W`` counts as the constant one.
    """
    if layer.operand_source:
        return [op for op, src in layer.operand_source.items() if src == layer.layer_id and op in layer.input_operands]
    return [op for op in layer.input_operands if op == "W"]


def weight_operand(layer: Layer) -> str:
    """ZigZag's ``get_weight_layer_op``: the constant operand; the first input when none or both are constant."""
    const = constant_operands(layer)
    if len(const) == 1:
        return const[0]
    if not const:
        return layer.input_operands[0]
    act = activation_operand(layer)
    return [op for op in const if op != act][-1]


def activation_operand(layer: Layer) -> str:
    """ZigZag's ``get_act_layer_op``: the non-constant input (the second input when no input is constant; with
    two constant inputs, the first input, or the one indexed by a derived dim's loops when there is one)."""
    const = constant_operands(layer)
    inputs = layer.input_operands
    if len(const) == 1:
        return [op for op in inputs if op != const[0]][-1]
    if not const:
        return inputs[1]
    if not layer.relations:
        return inputs[0]
    # the operand whose relevant dims contain the first derived (pr) dim
    first_derived = layer.relations[0].derived
    holders = [op for op in layer.operands if first_derived in layer.operand_indices[op]]
    return holders[-1]


# --------------------------------------------------------------------------------------------------------------
# spatial occupation of the macro
# --------------------------------------------------------------------------------------------------------------


def wordline_bitline_dims(accelerator: Accelerator) -> tuple[str, str]:
    """The array dims inside one macro: first sorted dim = wordline (columns), second = bitline (rows)."""
    dims = sorted(accelerator.array.dimensions)
    return dims[0], dims[1]


def mapped_array(layer: Layer, accelerator: Accelerator, spatial: SpatialMapping) -> MappedArray:
    """``R_m``, ``R_add``, ``C_m`` and ``A`` of a user-format spatial mapping (main ZigZag's ``get_mapped_oa_dim``).

    Reads the spatial mapping as given (before the fractional conversion of the cost model), as ZigZag reads the
    layer's user-format mapping. A weight-irrelevant loop (OX, OY, B) on the wordline dim together with more than
    one mapped row means a diagonal weight layout (section 7.3): extra rows are activated.
    """
    wl, bl = wordline_bitline_dims(accelerator)
    in_macro = 1
    for ad, dims in spatial.unrollings:
        if ad in (wl, bl):
            in_macro *= math.prod(f for _, f in dims)
    present = {ad for ad, _ in spatial.unrollings}
    w = weight_operand(layer)
    ir_w = _irrelevant_dims(layer, w)
    wl_dims = spatial.factors_on(wl)
    cols = math.prod(f for _, f in wl_dims) if wl in present else 1
    diagonal = wl in present and any(d in ir_w for d, _ in wl_dims)
    failures: list[str] = []
    if bl in present:
        bl_dims = spatial.factors_on(bl)
        total = math.ceil(math.prod(f for _, f in bl_dims))
        if not diagonal or total == 1:
            rows = rows_adder = total
        else:
            rows, rows_adder, failures = _diagonal_rows(layer, w, wl_dims, bl_dims)
    else:
        rows = rows_adder = 1
    activations = layer.total_macs / float(in_macro)
    return MappedArray(rows, rows_adder, cols, activations, tuple(failures))


def _irrelevant_dims(layer: Layer, operand: str) -> set[str]:
    """Loop dims of size > 1 that do not index ``operand`` directly nor through a derived dim (ZigZag's ``ir_dims``:
    size-1 dims are left out, which decides e.g. whether B counts)."""
    used = set(layer.operand_indices[operand])
    for i in layer.operand_indices[operand]:
        rel = layer.relation_of.get(i)
        if rel is not None:
            used |= {rel.first, rel.second}
    return {d for d in layer.loop_dims if d not in used and layer.loop_sizes[d] != 1}


def _diagonal_rows(
    layer: Layer, w: str, wl_dims: tuple[tuple[str, float], ...], bl_dims: tuple[tuple[str, float], ...]
) -> tuple[float, float, list[str]]:
    """Rows of a diagonal mapping: each bitline loop that is the filter partner of a weight-irrelevant output
    loop unrolled on the wordline (FX for OX) needs ``u_OX - 1`` extra rows (section 7.3)."""
    failures: list[str] = []
    ir_w = _irrelevant_dims(layer, w)
    # partner (filter) dim -> the product of its weight-irrelevant partner's unrolls on the wordline dim
    extra_of: dict[str, float] = {}
    act = activation_operand(layer)
    for rel in layer.pr_relations(act):
        ir_dim, partner = (rel.first, rel.second) if rel.first in ir_w else (rel.second, rel.first)
        u = 1.0
        if ir_dim in ir_w:  # a pair without an irrelevant member (size-1 OX) never gets extra rows
            for d, f in wl_dims:
                if d == ir_dim:
                    u *= f
        extra_of[partner] = u
    for d in ir_w:
        if not any(d in (r.first, r.second) for r in layer.pr_relations(act)):
            failures.append(f"diagonal IMC mapping: weight-irrelevant dim {d} has no input partner "
                            "(ZigZag 3.9.1 raises KeyError)")
    if len(bl_dims) == 1:
        # ZigZag's single-loop branch indexes unroll_sizes[1] of a one-element list
        failures.append("diagonal IMC mapping with one bitline loop: ZigZag 3.9.1 raises IndexError")
    rows: float = 1
    rows_adder: float = 1
    # ZigZag pairs the bitline loops' dims, iterated as a *set* (hash order), with their factors in mapping
    # order: with several loops a factor may meet another loop's extra rows. Reproduced for parity.
    for d, f in zip(set_order([d for d, _ in bl_dims], "LayerDim"), [f for _, f in bl_dims]):
        extra = extra_of[d] - 1 if d in extra_of else 0
        rows *= f + extra
        rows_adder *= f
    return math.ceil(rows), math.ceil(rows_adder), failures


# --------------------------------------------------------------------------------------------------------------
# layer cost
# --------------------------------------------------------------------------------------------------------------


def imc_layer_cost(layer: Layer, accelerator: Accelerator, spatial: SpatialMapping) -> ImcLayerCost:
    """The IMC array's energy for the layer under this spatial mapping, its ``cycles_per_op`` and clock period."""
    macro = ImcMacro.from_accelerator(accelerator)
    mapped = mapped_array(layer, accelerator, spatial)
    breakdown = activity_energy(macro, ArrayActivity(mapped.rows, mapped.cols, mapped.activations, 0.0))
    return ImcLayerCost(
        macro=macro,
        mapped=mapped,
        breakdown=breakdown,
        energy=breakdown.total,
        cycles_per_op=macro.cycles_per_op,
        tclk_ns=macro.metrics.tclk_ns,
        precharge_per_pe=precharge_energy_per_pe(macro),
        weight_operand=weight_operand(layer),
    )


def precharge_interval(layer: Layer, weight: str, cells_loops: list[tuple[str, int]]) -> int:
    """Cycles between two precharges: the product of the weight-irrelevant loops at the cells level, innermost
    first, up to the first weight-relevant loop (section 7.8)."""
    ir_w = _irrelevant_dims(layer, weight)
    interval = 1
    for d, s in cells_loops:
        if d not in ir_w:
            break
        interval *= s
    return interval


def mapped_group_depth(layer: Layer, weight: str, cells_loops: list[tuple[str, int]]) -> int:
    """Weights used per cell group: the product of the weight-relevant loops at the cells level (section 7.8)."""
    ir_w = _irrelevant_dims(layer, weight)
    return math.prod(s for d, s in cells_loops if d not in ir_w)


def precharge_energy(cost: ImcLayerCost, layer: Layer, cells_loops: list[tuple[str, int]], reads_to_array: float) -> float:
    """Local-bitline precharge energy (pJ) of one temporal mapping (section 7.8), 0 for one weight per group.

    ``cells_loops`` are the weight's temporal loops at its level 0 (the cells, before the stationarity merge),
    innermost first; ``reads_to_array`` the elements one cells instance reads out to the array over the layer.
    As in the spec, the count is for one cell group (not multiplied by the number of PEs). ZigZag 3.9.1 crashes
    on this path, so this follows the spec's description of the intended model.
    """
    if not cost.precharge_per_pe:
        return 0.0
    interval = precharge_interval(layer, cost.weight_operand, cells_loops)
    return cost.precharge_per_pe * (reads_to_array / interval)
