"""Spatial mappings: ZigZag 3.9.1's generation and pruning of spatial unrollings (spec cost_model.md 8.4).

Steps 1-5 (maximal unrollings, template from the user's partial mapping, candidates per undefined array
dim, combination and ranking) are :func:`generate_spatial_mappings`; step 6 (shrinking unrollings that do
not fit the innermost memories) is :func:`limit_by_capacity`, applied to every mapping it returns.

ZigZag iterates sets of layer dims and array dims in several places (hints, over-unrolled template dims,
capacity limiting); :func:`cpmap.zigzag_order.set_order` reproduces those orders, so ties come out the way
ZigZag breaks them.
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass
from itertools import combinations, product
from pathlib import Path
from typing import Iterable, Iterator

from .errors import InputError
from .hardware import Accelerator, MemoryLevel
from .mapping import MappingConstraints, SpatialMapping
from .workload import CANONICAL_DIMS, Layer
from .zigzag_order import set_order

#: Per array dim, per layer dim, an unroll factor (ZigZag's user format as plain dicts).
Unrolling = dict[str, dict[str, int]]


def generate_spatial_mappings(
    layer: Layer,
    accelerator: Accelerator,
    constraints: MappingConstraints,
    nb_mappings: int = 3,
    mixed: bool = False,
    path: str | Path | None = None,
    *,
    workload_dims: Iterable[str] = (),
) -> list[SpatialMapping]:
    """The spatial mappings ZigZag 3.9.1's ``SpatialMappingGeneratorStage`` yields for ``layer``, in its order.

    * If the user's ``constraints.spatial`` (after dropping what does not apply to this layer, see below)
      defines every array dim, that one mapping is returned, capped and capacity-limited.
    * Otherwise each undefined array dim gets candidates (one hinted layer dim unrolled by a divisor of its
      maximal unrolling, largest first; with ``mixed`` also every combination of two or more hinted dims with
      factors > 1 that fits the dim); the valid combinations are ranked by ZigZag's performance indicator
      (:func:`ranking_score`, descending, ties in candidate order) and the best ``nb_mappings`` kept.
    * Every returned mapping went through step 6 (:func:`limit_by_capacity`). Array dims keep ZigZag's order:
      the user's dims in mapping-file order (possibly emptied), then the generated ones in accelerator order.

    ``nb_mappings`` is ZigZag's ``nb_spatial_mappings_generated`` (API default 3). ``mixed`` is ZigZag's
    ``enable_mix_spatial_mapping`` argument of ``get_hardware_performance_zigzag`` (stage keyword
    ``enable_mix_spatial_mapping_generation``), **off by default**; ZigZag's API forces it on when
    ``in_memory_compute=True`` (IMC runs). In ZigZag's API enabling it also turns on the inter-layer
    data-locality stages that prune the memory hierarchy; that is not part of this function.

    Input handling (ZigZag is silent about most of this; we only reject what is wrong for every layer):

    * rejected with :class:`InputError` (``path``, field ``<entry>.spatial_mapping.<Dk>`` or
      ``<entry>.spatial_mapping_hint.<Dk>``): a layer dim name that is neither a loop dim of this layer, nor
      one of ``workload_dims`` (pass every loop dim of the workload), nor a standard dim (``CANONICAL_DIMS``);
      a spatial mapping on an array dim the accelerator lacks (ZigZag crashes); an unroll factor < 1; an
      unroll factor, or the product of the factors on one array dim, larger than the array dim;
    * dropped silently, as ZigZag does: spatial-mapping entries naming dims this layer lacks (a shared
      ``default`` entry often names dims a Gemm lacks); factors above the layer's maximal unrolling (capped);
      per layer dim, entries on some array dims while its total exceeds the layer size; hints on array dims
      the accelerator lacks (bundled mapping files hint D3/D4 for 2-D arrays); hinted dims this layer lacks
      (and a hint naming none of the layer's dims falls back to all layer dims, as in ZigZag).

    Returns ``[]`` when no valid combination exists (the caller reports the layer infeasible).
    """
    if nb_mappings < 1:
        raise ValueError(f"nb_mappings must be >= 1, got {nb_mappings}")
    known = set(CANONICAL_DIMS) | set(layer.loop_sizes) | {d.upper() for d in workload_dims}
    check_constraints(accelerator, constraints, known, path)
    links = constraints.operand_links
    maxima = max_unrollings(layer, accelerator, links)
    template = reduce_template(constraints.spatial, layer, maxima)
    undefined = [ad for ad in accelerator.array.dimensions if ad not in template]
    if not undefined:
        return [limit_by_capacity(layer, accelerator, _to_spatial(template), links)]
    options = [
        single_dim_candidates(
            hinted_dims(layer, constraints.hint.get(ad, ())), maxima[ad], accelerator.array.size_of[ad], mixed
        )
        for ad in undefined
    ]
    best = best_combinations(template, options, layer.loop_sizes, nb_mappings)
    return limit_ranked(layer, accelerator, template, undefined, best, links)


def all_spatial_mappings(
    layer: Layer,
    accelerator: Accelerator,
    constraints: MappingConstraints,
    mixed: bool = False,
    path: str | Path | None = None,
    *,
    workload_dims: Iterable[str] = (),
) -> list[SpatialMapping]:
    """The whole spatial space of ``layer`` under the mapping file's constraints (``--spatial-mappings all``).

    ZigZag's space without its cut to the best few: the array dims the mapping file fixes keep its entry
    (made valid as in :func:`generate_spatial_mappings`); every other array dim takes one of its candidates
    (each hinted layer dim alone, unrolled by any divisor of its maximal unrollings, 1 included: partial
    unrollings where the layer dim is smaller than the array dim, and the caps that become fractional
    unrollings; with ``mixed`` also the combinations of several hinted dims), over every combination that
    unrolls no layer dim beyond its size. Each combination is capacity-limited on its own (ZigZag's step 6)
    and mappings that come out equal are one. ZigZag's own list (with its shrinking quirks) comes first, then
    the others by ZigZag's ranking; so the space always contains the ``--spatial-mappings N`` candidates.
    """
    ranked = generate_spatial_mappings(layer, accelerator, constraints, 3, mixed, path, workload_dims=workload_dims)
    links = constraints.operand_links
    maxima = max_unrollings(layer, accelerator, links)
    template = reduce_template(constraints.spatial, layer, maxima)
    undefined = [ad for ad in accelerator.array.dimensions if ad not in template]
    out: dict[tuple, SpatialMapping] = {}
    for sm in ranked:
        out.setdefault(_key(sm), sm)
    if not undefined:
        return list(out.values())
    options = [
        single_dim_candidates(hinted_dims(layer, constraints.hint.get(ad, ())), maxima[ad], accelerator.array.size_of[ad], mixed)
        for ad in undefined
    ]
    picks = []
    for picked in product(*options):
        totals = {ld: _total(template, ld) for dims in template.values() for ld in dims}
        valid = True
        for cand in picked:
            for ld, f in cand.factors:
                totals[ld] = totals.get(ld, 1) * f
                valid = valid and totals[ld] <= layer.loop_sizes[ld]
        if valid:
            mapping = {ad: dict(dims) for ad, dims in template.items()}
            mapping.update({ad: dict(c.factors) for ad, c in zip(undefined, picked)})
            u = float(int(math.prod(math.prod(d.values()) for d in mapping.values())))
            score = u + (u / max([_total(mapping, ld) for ld in {ld for d in mapping.values() for ld in d}] or [1]) - 1)
            picks.append((-score, tuple(c.position for c in picked), mapping))
    for _, _, mapping in sorted(picks, key=lambda x: (x[0], x[1])):
        sm = limit_by_capacity(layer, accelerator, _to_spatial(mapping), links)
        out.setdefault(_key(sm), sm)
    return list(out.values())


def _key(sm: SpatialMapping) -> tuple:
    """What makes two spatial mappings the same: the factors per array dim (factors of 1 dropped)."""
    return tuple(sorted((ad, tuple(sorted((ld, f) for ld, f in dims.items() if f > 1))) for ad, dims in sm.as_dict().items()))


def limit_ranked(
    layer: Layer,
    accelerator: Accelerator,
    template: Unrolling,
    undefined: list[str],
    ranked: list[tuple[Candidate, ...]],
    links: dict[str, str],
) -> list[SpatialMapping]:
    """Step 6 on the ranked mappings, with ZigZag's sharing of candidates between them.

    ZigZag shrinks the ranked mappings one after the other, in place, and the object holding one array
    dim's candidate is shared by every ranked mapping that picked it (the template part is copied per
    mapping). So a shrink made for one mapping also shows in the others that share the candidate, both in
    what their own capacity check sees and in what they finally hold (e.g. on tesla_npu_like, the third
    mapping's ``OX 32`` becomes ``OX 16`` because the first mapping had to shrink it).
    """
    shared: dict[tuple[str, int], dict[str, int]] = {}
    template_parts: list[Unrolling] = []
    for picked in ranked:
        mapping = {ad: dict(dims) for ad, dims in template.items()}
        for ad, cand in zip(undefined, picked):
            mapping[ad] = shared.setdefault((ad, cand.position), dict(cand.factors))
        limited = limit_by_capacity(layer, accelerator, _to_spatial(mapping), links).as_dict()
        for ad, cand in zip(undefined, picked):
            shared[(ad, cand.position)].update(limited[ad])
        template_parts.append({ad: limited[ad] for ad in template})
    out = []
    for part, picked in zip(template_parts, ranked):
        mapping = dict(part)
        mapping.update({ad: shared[(ad, cand.position)] for ad, cand in zip(undefined, picked)})
        out.append(_to_spatial(mapping))
    return out


def check_constraints(
    accelerator: Accelerator, constraints: MappingConstraints, known_dims: set[str], path: str | Path | None
) -> None:
    """Reject spatial mappings and hints that are wrong for any layer (see :func:`generate_spatial_mappings`)."""
    sizes = accelerator.array.size_of
    entry = constraints.name
    spatial = constraints.spatial.unrollings if constraints.spatial is not None else ()
    for ad, dims in spatial:
        where = f"{entry}.spatial_mapping.{ad}"
        if ad not in sizes:
            have = ", ".join(accelerator.array.dimensions)
            raise InputError(path, where, f"accelerator {accelerator.name} has no array dimension {ad} (it has {have})")
        for ld, f in dims:
            _check_dim_name(ld, known_dims, path, where)
            if f < 1:
                raise InputError(path, where, f"unroll factor of {ld} must be >= 1, got {f}")
            if f > sizes[ad]:
                raise InputError(path, where, f"unroll factor {f} of {ld} exceeds the size {sizes[ad]} of {ad}")
        product = math.prod(f for _, f in dims)
        if product > sizes[ad]:
            raise InputError(path, where, f"unroll factors multiply to {product}, more than the size {sizes[ad]} of {ad}")
    for ad, names in constraints.hint.items():
        for ld in names:
            _check_dim_name(ld.upper(), known_dims, path, f"{entry}.spatial_mapping_hint.{ad}")


def _check_dim_name(name: str, known_dims: set[str], path: str | Path | None, where: str) -> None:
    if name not in known_dims:
        raise InputError(path, where, f"unknown layer dimension {name!r} (known: {', '.join(sorted(known_dims))})")


def max_unrollings(layer: Layer, accelerator: Accelerator, links: dict[str, str]) -> Unrolling:
    """Step 1: per array dim, per layer dim, ``min(layer size, array dim size)`` capped by the bandwidths.

    For each innermost memory and linked operand, along every array dim the memory serves, a dim that is
    not irrelevant for the operand can be unrolled at most ``bw_max // precision`` times (read-to-low port
    for inputs, write-from-low port for the output): one access must feed (or drain) all those units.
    """
    sizes = accelerator.array.size_of
    maxima = {ad: {ld: min(s, sizes[ad]) for ld, s in layer.loop_sizes.items()} for ad in accelerator.array.dimensions}
    output = layer.operands[0]
    for mem, mop, op in _linked_innermost(layer, accelerator, links):
        port = mem.port_of(mop, "fl" if op == output else "tl")
        precision = _precision(layer, op)
        if port is None or precision <= 0:  # nothing to cap (ZigZag: no port crashes, precision 0 skips)
            continue
        cap = port.bw_max // precision
        irrelevant = {d for d, c in layer.relevance[op].items() if c == "ir"}
        for ad in mem.served_dimensions:
            for ld in maxima[ad]:
                if ld not in irrelevant:
                    maxima[ad][ld] = min(maxima[ad][ld], cap)
    return maxima


def reduce_template(user: SpatialMapping | None, layer: Layer, maxima: Unrolling) -> Unrolling:
    """Step 2: the user's (possibly partial) mapping made valid for this layer.

    Dims the layer lacks are removed, factors capped at the maximal unrollings, and while a layer dim's
    total over the array dims exceeds its size, its entry on one array dim is dropped (the first in ZigZag's
    set order). An array dim whose entries were all removed stays defined, with no unrolling.
    Over-full array dims (ZigZag drops dims arbitrarily) cannot occur: :func:`check_constraints` rejects them.
    """
    template: Unrolling = {}
    for ad, dims in (user.as_dict() if user is not None else {}).items():
        template[ad] = {ld: min(f, maxima[ad][ld]) for ld, f in dims.items() if ld in layer.loop_sizes}
    for ld in set_order([ld for dims in template.values() for ld in dims], "LayerDim"):
        while _total(template, ld) > layer.loop_sizes[ld]:
            holders = [ad for ad in set_order(template, "OADimension") if ld in template[ad]]
            del template[set_order(holders, "OADimension")[0]][ld]
    return template


def hinted_dims(layer: Layer, hint: Iterable[str]) -> list[str]:
    """Step 3a: the layer dims an undefined array dim may unroll, in ZigZag's set iteration order.

    A hint naming none of the layer's dims (or no hint) means all layer dims. Hinted names the layer lacks
    stay in the list (they shape the set order) and yield no candidate.
    """
    names = [d.upper() for d in hint]
    if not any(d in layer.loop_sizes for d in names):
        names = list(layer.loop_sizes)
    return set_order(names, "LayerDim")


@dataclass(frozen=True)
class Candidate:
    """One way to fill an array dim: ``(layer dim, factor)`` pairs and its position in ZigZag's generation order."""

    position: int
    factors: tuple[tuple[str, int], ...]

    @property
    def utilization(self) -> int:
        return math.prod(f for _, f in self.factors)


def single_dim_candidates(hinted: list[str], maxima: dict[str, int], size: int, mixed: bool) -> list[Candidate]:
    """Step 3b: candidates for one undefined array dim, in ZigZag's generation order.

    First each hinted dim alone with every divisor of its maximal unrolling, largest first (divisors of the
    cap, not of the layer size: K = 12 on an 8-wide dim gives 8, 4, 2, 1). With ``mixed``, then every
    combination of 2+ hinted dims (in hint order) with factors > 1 dividing their caps, whose product fits.
    Combinations with a dim the layer lacks are left out: ZigZag generates them and never accepts them.
    """
    factors: list[tuple[tuple[str, int], ...]] = []
    for ld in hinted:
        if ld in maxima:
            factors += [((ld, f),) for f in reversed(divisors(maxima[ld]))]
    if mixed:
        present = [ld for ld in hinted if ld in maxima]
        for k in range(2, len(present) + 1):
            for dims in combinations(present, k):
                pools = [[f for f in divisors(maxima[ld]) if f > 1] for ld in dims]
                factors += [tuple(zip(dims, fs)) for fs in _products_up_to(pools, size)]
    return [Candidate(i, f) for i, f in enumerate(factors)]


def _products_up_to(pools: list[list[int]], limit: int, prefix: tuple[int, ...] = ()) -> Iterator[tuple[int, ...]]:
    """``itertools.product(*pools)`` restricted to tuples whose product is <= ``limit``, same order.

    Pools are ascending and hold factors >= 2, so a prefix over the limit can be cut with all its successors.
    """
    if not pools:
        yield prefix
        return
    base = math.prod(prefix)
    for f in pools[0]:
        if base * f > limit:
            break
        yield from _products_up_to(pools[1:], limit, prefix + (f,))


def divisors(n: int) -> list[int]:
    """Divisors of ``n`` ascending; none for ``n <= 0`` (a zero cap allows no unrolling, as with sympy)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0] if n > 0 else []
    return small + [n // d for d in reversed(small) if d * d != n]


def ranking_score(mapping: Unrolling) -> float:
    """ZigZag's performance indicator ``U + (U / max_L total(L) - 1)``, ``U`` = product of all factors.

    Hardware utilisation, plus a bonus below ``U`` for spreading the unrolling over several layer dims
    (e.g. 32x32: ``{K32, OX32}`` scores 1024 + 31 = 1055, ``{K32, C3}`` 96 + 2 = 98). Evaluated with the
    same float operations as ZigZag so exact ties stay ties.
    """
    u = float(int(math.prod(math.prod(d.values()) for d in mapping.values())))
    totals = [_total(mapping, ld) for ld in {ld for d in mapping.values() for ld in d}]
    return u + (u / max(totals) - 1)


def best_combinations(
    template: Unrolling, options: list[list[Candidate]], layer_sizes: dict[str, int], nb: int
) -> list[tuple[Candidate, ...]]:
    """Steps 4-5: the ``nb`` best valid picks (one candidate per undefined array dim) by descending
    :func:`ranking_score`, ties by the candidates' positions (lexicographic), i.e. the first ``nb`` of a
    stable sort of the Cartesian product.

    Valid = no layer dim unrolled beyond its size in total (the other validity rules hold by construction).
    Branch and bound instead of the full product: picks are tried by decreasing utilization and a branch
    is cut when even its largest reachable utilization ``Ub`` with the smallest possible largest total ``m``
    (the current one) cannot reach the worst score kept, ``Ub + Ub / m - 1``.
    """
    n = len(options)
    by_utilization = [sorted(opts, key=lambda c: -c.utilization) for opts in options]
    best_rest = [1] * (n + 1)  # product of the best utilizations still available from depth d on
    for d in reversed(range(n)):
        best_rest[d] = best_rest[d + 1] * (by_utilization[d][0].utilization if by_utilization[d] else 0)
    kept: list[tuple[tuple[float, tuple[int, ...]], tuple[Candidate, ...]]] = []

    def visit(depth: int, utilization: int, totals: dict[str, int], picked: tuple[Candidate, ...]) -> None:
        if depth == n:
            u = float(utilization)
            key = (-(u + (u / max(totals.values()) - 1)), tuple(c.position for c in picked))
            if len(kept) < nb or key < kept[-1][0]:
                insort(kept, (key, picked), key=lambda e: e[0])
                del kept[nb:]
            return
        largest = max(totals.values(), default=1)
        for cand in by_utilization[depth]:
            reach = utilization * cand.utilization * best_rest[depth + 1]
            if len(kept) == nb and reach + (reach / max(largest, 1) - 1) < -kept[-1][0][0]:
                break  # later candidates have lower utilization: they cannot reach either
            new = dict(totals)
            for ld, f in cand.factors:
                new[ld] = new.get(ld, 1) * f
            if all(new[ld] <= layer_sizes[ld] for ld, _ in cand.factors):
                visit(depth + 1, utilization * cand.utilization, new, picked + (cand,))

    fixed_totals = {ld: _total(template, ld) for dims in template.values() for ld in dims}
    visit(0, math.prod(math.prod(d.values()) for d in template.values()), fixed_totals, ())
    return [picked for _, picked in kept]


def _total(mapping: Unrolling, layer_dim: str) -> int:
    """Total unrolling of a layer dim over all array dims."""
    return math.prod(d[layer_dim] for d in mapping.values() if layer_dim in d)


def _to_spatial(mapping: Unrolling) -> SpatialMapping:
    return SpatialMapping(tuple((ad, tuple(dims.items())) for ad, dims in mapping.items()))


def _precision(layer: Layer, operand: str) -> int:
    """Precision ZigZag uses per unit: partial-sum precision for the output, else the input's."""
    return layer.precision["O"] if operand == layer.operands[0] else layer.precision[operand]


def _linked_innermost(layer: Layer, accelerator: Accelerator, links: dict[str, str]) -> Iterator[tuple[MemoryLevel, str, str]]:
    """(innermost memory, memory operand, layer operand) for the memory operands linked to this layer."""
    mem_to_layer = {m: o for o, m in links.items() if o in layer.operands}
    for mem in innermost_memories(accelerator):
        for mop in mem.operands:
            if mop in mem_to_layer:
                yield mem, mop, mem_to_layer[mop]


def innermost_memories(accelerator: Accelerator) -> list[MemoryLevel]:
    """Memories with no memory below them for any operand they store (graph nodes without predecessor)."""
    return [m for m in accelerator.memories if all(accelerator.chain(op)[0] is m for op in m.operands)]


def limit_by_capacity(layer: Layer, accelerator: Accelerator, spatial: SpatialMapping, links: dict[str, str]) -> SpatialMapping:
    """Shrink unrollings whose per-instance data does not fit the innermost memories (ZigZag step 6).

    For each innermost memory and linked operand, the product of the unrollings (over the memory's served
    dims) of the dims that are not irrelevant for the operand must not exceed ``size / precision``
    elements; the largest factor is decremented until it fits (never below 1). New factors are assigned
    by old value, as ZigZag does, so equal old factors get equal new factors.
    """
    mapping = {ad: dict(dims) for ad, dims in spatial.unrollings}
    mem_to_layer = {m: o for o, m in links.items() if o in layer.operands}
    for mem in innermost_memories(accelerator):
        for mop in mem.operands:
            op = mem_to_layer.get(mop)
            if op is None:
                continue
            precision = layer.precision["O"] if op == "O" else layer.precision[op]
            irrelevant = {d for d, c in layer.relevance[op].items() if c == "ir"}
            # ZigZag walks these as sets; their iteration order decides which factor shrinks on ties
            served = set_order(mem.served_dimensions, "OADimension")
            inserted: list[str] = []
            total = 1
            for ad in served:
                for ld, f in mapping.get(ad, {}).items():
                    if ld not in irrelevant:
                        inserted.append(ld)
                        total *= f
            capacity = mem.size / precision if precision > 0 else math.inf
            if capacity >= total:
                continue
            limited = set_order(inserted, "LayerDim")
            factors = [mapping[ad][ld] for ld in limited for ad in served if ld in mapping.get(ad, {})]
            new = list(factors)
            while math.prod(new) > capacity and any(f > 1 for f in new):
                new[new.index(max(new))] -= 1
            remap = dict(zip(factors, new))
            for ad in mem.served_dimensions:
                if ad in mapping:
                    mapping[ad] = {ld: remap[f] if ld in limited else f for ld, f in mapping[ad].items()}
    return SpatialMapping(tuple((ad, tuple(d.items())) for ad, d in mapping.items()))
