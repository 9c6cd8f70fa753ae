"""The temporal-mapping-independent part of the cost model (spec cost_model.md sections 3.1-3.3).

:func:`prepare` binds a layer, an accelerator, a spatial mapping and the operand links into a
:class:`LayerContext`: per operand its memory chain, relevance classes, precisions, ports, costs and
spatial quantities (both the fractional and the integer variant of the spatial mapping), the temporal loop
sizes, the MAC energy, the ideal cycles, the systolic drain and the port plan. Engines that cost millions of
temporal mappings reuse one context.

Index conventions follow the spec: memory levels ``m = 0..M-1`` per operand (0 = next to the array);
lists that also cover the array carry it at index 0 (``a = m + 1``). Directions: ``rd_down`` (tl, read
out to the level below), ``wr_up`` (fl, written by the level below), ``rd_up`` (th), ``wr_down`` (fh).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError
from ..hardware import Accelerator, MemoryLevel
from ..imc.layer_cost import ImcLayerCost, imc_layer_cost
from ..mapping import SpatialMapping, TemporalMapping
from ..workload import Layer
from ..zigzag_order import set_order
from .spatial import OperandSpatial, attach_spatial, convert_spatial

DIRECTIONS = ("rd_down", "wr_up", "rd_up", "wr_down")
DIRECTION_TAG = {"rd_down": "tl", "wr_up": "fl", "rd_up": "th", "wr_down": "fh"}
TAG_INDEX = {"tl": 0, "fl": 1, "th": 2, "fh": 3}
RD_DOWN, WR_UP, RD_UP, WR_DOWN = 0, 1, 2, 3


@dataclass(frozen=True)
class OperandContext:
    """Per layer operand: its memory chain, relevance, ports and spatial quantities (both variants)."""

    name: str
    memory_operand: str
    chain: tuple[MemoryLevel, ...]
    is_output: bool
    #: loop dims that do not index the operand (its data stays while they iterate), and those that do
    irrelevant_dims: frozenset[str]
    relevant_dims: frozenset[str]
    precision: int  # inputs: own precision; output: partial-sum precision
    final_precision: int
    spatial_frac: OperandSpatial
    spatial_int: OperandSpatial
    # per level m, per direction index: (bw_min, bw_max) or None
    ports: tuple[tuple[tuple[int, int] | None, ...], ...]
    costs: tuple[tuple[float, float], ...]  # per level: (r_cost, w_cost)
    relevant_in_layer_order: tuple[str, ...] = ()
    #: partially relevant pairs (OX with FX for I): (first dim, second dim, full derived size, relation) per derived dim
    partially_relevant: tuple[tuple, ...] = ()
    #: output only, per spatial variant: an O-irrelevant spatial factor > 1 in unrollings[a] for a = 0..M
    spatial_ir_frac: tuple[bool, ...] = ()
    spatial_ir_int: tuple[bool, ...] = ()


@dataclass(frozen=True, eq=False)
class LayerContext:
    """Everything about (layer, accelerator, spatial mapping, links) that the temporal mapping does not change."""

    layer: Layer
    accelerator: Accelerator
    spatial: SpatialMapping
    links: dict[str, str]
    operands: tuple[OperandContext, ...]
    temporal_sizes: dict[str, int]
    total_cycles: int
    same_spatial_variants: bool
    mac_energy: float
    ideal_cycle: int
    systolic_drain: int
    spatial_frac: dict[str, list]
    spatial_int: dict[str, list]
    #: per physical port (memories in declaration order, ports in order): (port, shared by I1 and I2,
    #: the (operand index, level, direction index) duties of the layer's operands, in ZigZag's order)
    port_plan: tuple = ()
    #: clock cycles per MAC: 1 for digital arrays, ``B_a / B_c`` for bit-serial IMC arrays (scales every cycle count)
    cycles_per_op: float = 1
    #: IMC arrays only: the array energy of this spatial mapping, cycles_per_op and clock (imc_model.md 7.2, 11)
    imc: ImcLayerCost | None = None

    def operand(self, name: str) -> OperandContext:
        for o in self.operands:
            if o.name == name:
                return o
        raise KeyError(name)



# --------------------------------------------------------------------------------------------------------

def prepare(layer: Layer, accelerator: Accelerator, spatial: SpatialMapping, links: dict[str, str]) -> LayerContext:
    """Bind the temporal-mapping-independent part of the cost model (spec 3.1-3.3)."""
    frac, integer = convert_spatial(layer, accelerator, spatial)
    same = all(float(a[1]) == float(b[1]) for ad in frac for a, b in zip(frac[ad], integer[ad]))
    operands = []
    for op in layer.operands:
        mop = links.get(op)
        if mop is None:
            raise InputError(None, f"memory_operand_links.{op}", f"layer {layer.name} operand {op} has no memory operand link")
        chain = accelerator.chain(mop)
        if not chain:
            raise InputError(None, f"memory_operand_links.{op}", f"no memory of {accelerator.name} stores {mop} (linked to {op})")
        # ZigZag iterates served dims as a set: the order only changes float rounding, kept for parity
        served = [tuple(set_order(m.served_dimensions, "OADimension")) for m in chain]
        rel = layer.relevance[op]
        ports = []
        for mem in chain:
            row = []
            for d in DIRECTIONS:
                p = mem.port_of(mop, DIRECTION_TAG[d])
                row.append((p.bw_min, p.bw_max) if p is not None else None)
            ports.append(tuple(row))
        is_out = op == layer.operands[0]
        sp_frac = attach_spatial(layer, op, served, frac)
        sp_int = attach_spatial(layer, op, served, integer)
        ir = frozenset(d for d, c in rel.items() if c == "ir")
        operands.append(
            OperandContext(
                name=op,
                memory_operand=mop,
                chain=chain,
                is_output=is_out,
                irrelevant_dims=ir,
                relevant_dims=frozenset(d for d, c in rel.items() if c == "r"),
                precision=layer.precision["O"] if is_out else layer.precision[op],
                final_precision=layer.precision["O_final"] if is_out else layer.precision[op],
                spatial_frac=sp_frac,
                spatial_int=sp_int,
                ports=tuple(ports),
                costs=tuple((m.instance.r_cost, m.instance.w_cost) for m in chain),
                relevant_in_layer_order=tuple(d for d in layer.loop_dims if rel.get(d) == "r"),
                partially_relevant=tuple((r.first, r.second, layer.derived_size(r.derived), r) for r in layer.pr_relations(op)),
                spatial_ir_frac=tuple(any(f > 1 and d in ir for d, f in lv) for lv in sp_frac.unrollings),
                spatial_ir_int=tuple(any(f > 1 and d in ir for d, f in lv) for lv in sp_int.unrollings),
            )
        )
    n_units = [o.spatial_frac.instances[0] for o in operands]
    if len(set(n_units)) != 1:
        raise AssertionError(f"operands see different active MAC counts {n_units}")

    # Temporal loop sizes: ceil-divide by the fractional unrollings, in the first input operand's order.
    first_input = operands[1] if len(operands) > 1 else operands[0]
    sizes = dict(layer.loop_sizes)
    for level in first_input.spatial_frac.unrollings:
        for ld, f in level:
            if ld in sizes:
                sizes[ld] = math.ceil(sizes[ld] / f)
                if sizes[ld] == 1:
                    del sizes[ld]
    sizes = {d: s for d, s in sizes.items() if s > 1}
    total = math.prod(sizes.values())
    array = accelerator.array
    # IMC: the MAC energy is the array's energy for this spatial mapping, not unit_energy x MACs
    imc = imc_layer_cost(layer, accelerator, spatial) if array.imc is not None else None
    cpo = imc.cycles_per_op if imc is not None else 1
    ideal = math.ceil(math.ceil(layer.total_macs / array.total_units) * cpo)
    drain = 0
    for ad in array.systolic_dimensions if imc is None else ():  # ZigZag's IMC arrays never drain systolically
        dims = [f for ld, f in spatial.factors_on(ad) if ld in layer.loop_sizes]
        if dims:
            drain += max(math.ceil(math.prod(dims)) - 1, 0)
    index_of = {o.memory_operand: i for i, o in enumerate(operands)}
    plan = []
    for mem in accelerator.memories:
        for port, duties in mem.port_duties:
            # "shared by the two input operands" looks at every operand the port serves, linked or not
            shared = {"I1", "I2"} <= {mop for mop, _ in duties}
            members = tuple(
                (index_of[mop], operands[index_of[mop]].chain.index(mem), TAG_INDEX[tag])
                for mop, tag in duties
                if mop in index_of
            )
            plan.append((port, shared, members))
    return LayerContext(
        layer=layer,
        accelerator=accelerator,
        spatial=spatial,
        links=dict(links),
        operands=tuple(operands),
        temporal_sizes=sizes,
        total_cycles=total,
        same_spatial_variants=same,
        mac_energy=imc.energy if imc is not None else array.unit_energy * layer.total_macs,
        ideal_cycle=ideal,
        systolic_drain=drain,
        spatial_frac=frac,
        spatial_int=integer,
        port_plan=tuple(plan),
        cycles_per_op=cpo,
        imc=imc,
    )


def loop_products(loops) -> dict[str, int]:
    """Per dim, the product of its loop sizes (dims whose product is 1 left out)."""
    prod: dict[str, int] = {}
    for d, s in loops:
        if s < 1:
            raise ValueError(f"loop {d} has size {s}")
        prod[d] = prod.get(d, 1) * s
    return {d: s for d, s in prod.items() if s > 1}


def check_temporal(ctx: LayerContext, tm: TemporalMapping) -> None:
    """Raise ``ValueError`` if the temporal mapping does not fit the context (loop products, level splits)."""
    prod = loop_products(tm.loops)
    if prod != ctx.temporal_sizes:
        raise ValueError(f"temporal loops multiply to {prod}, the layer under this spatial mapping needs {ctx.temporal_sizes}")
    for o in ctx.operands:
        cuts = tm.cuts.get(o.name)
        if cuts is None or len(cuts) != len(o.chain):
            raise ValueError(f"operand {o.name} needs {len(o.chain)} memory levels, got {None if cuts is None else len(cuts)}")
        if list(cuts) != sorted(cuts) or cuts[-1] != len(tm.loops) or cuts[0] < 0:
            raise ValueError(f"operand {o.name}: level splits {cuts} are not monotone up to {len(tm.loops)}")


def port_missing(ctx: LayerContext, o: OperandContext, m: int, d: int) -> InputError:
    mem = o.chain[m]
    return InputError(
        None,
        f"memories.{mem.name}.ports",
        f"no port carries {o.memory_operand} '{DIRECTION_TAG[DIRECTIONS[d]]}', needed by layer {ctx.layer.name}",
    )
