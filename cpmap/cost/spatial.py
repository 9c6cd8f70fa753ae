"""Spatial side of the cost model: conversion of a user spatial mapping, attachment to memory levels,
instance counts and fan-out boosts (spec cost_model.md sections 3.1-3.2)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..hardware import Accelerator
from ..mapping import SpatialMapping
from ..workload import Layer

Loop = tuple[str, float]


def convert_spatial(layer: Layer, accelerator: Accelerator, spatial: SpatialMapping) -> tuple[dict[str, list[Loop]], dict[str, list[Loop]]]:
    """User-format spatial mapping -> (fractional, integer) mappings, per array dim a list of (layer dim, factor).

    A layer dim whose unrolling does not divide its size is rescaled on the first array dim carrying its
    largest unrolling: ``t = ceil(size/(u*E))``, ``u' = size/t/E`` (ZigZag's greedy mapping); the integer
    mapping truncates ``u'``. Energy uses the fractional one, latency the integer one.
    """
    size_of = accelerator.array.size_of
    user = [(ad, [(ld, f) for ld, f in dims if ld in layer.loop_sizes]) for ad, dims in spatial.unrollings]
    largest: dict[str, tuple[int, str]] = {}
    for ad, dims in user:
        for ld, f in dims:
            if ld not in largest or f > largest[ld][0]:
                largest[ld] = (f, ad)
    frac: dict[str, list[Loop]] = {}
    integer: dict[str, list[Loop]] = {}
    done_frac: dict[str, float] = {}
    done_int: dict[str, float] = {}
    for ad, dims in user:
        frac[ad], integer[ad] = [], []
        for ld, f in dims:
            u = min(f, size_of.get(ad, f))
            size = layer.loop_sizes[ld]
            if largest[ld][1] == ad:
                e_f = done_frac.get(ld, 1)
                e_i = done_int.get(ld, 1)
                t = math.ceil(size / (u * e_f))
                uf: float = size / t / e_f
                ui: float = int(size / t / e_i)
            else:
                uf = ui = u
            frac[ad].append((ld, uf))
            integer[ad].append((ld, ui))
            done_frac[ld] = done_frac.get(ld, 1) * uf
            done_int[ld] = done_int.get(ld, 1) * ui
    return frac, integer


@dataclass(frozen=True)
class OperandSpatial:
    """Spatial quantities of one operand: the loops unrolled at each level, ``unrollings[a]`` for a = 0..M (a = M lies above the top memory),
    instance counts ``instances[m+1]`` for m = -1..M-1, boosts ``boost[m]`` for m = 0..M-1, and the
    cumulative spatial extent per dim up to each ``a``."""

    unrollings: tuple[tuple[Loop, ...], ...]
    instances: tuple[int, ...]
    boost: tuple[int, ...]
    cum_extent: tuple[dict[str, float], ...]


def attach_spatial(
    layer: Layer, operand: str, served: list[tuple[str, ...]], per_array_dim: dict[str, list[Loop]]
) -> OperandSpatial:
    """Attach array-dim unrollings to the lowest memory level of the operand serving that dim.

    ``served`` lists, bottom-up, the served dimensions of each memory level of the operand's chain.
    """
    taken: set[str] = set()
    su: list[list[Loop]] = []
    for dims in served:
        level: dict[str, float] = {}
        for ad in dims:
            if ad in taken or ad not in per_array_dim:
                continue
            taken.add(ad)
            for ld, f in per_array_dim[ad]:
                level[ld] = level[ld] * f if ld in level else f
        su.append(list(level.items()))
    rest: dict[str, float] = {}
    for ad, loops in per_array_dim.items():
        if ad in taken:
            continue
        for ld, f in loops:
            rest[ld] = rest[ld] * f if ld in rest else f
    su.append(list(rest.items()))

    relevance = layer.relevance[operand]
    rels = {d: r for r in layer.pr_relations(operand) for d in (r.first, r.second)}
    cum: dict[str, float] = {}
    u_r: list[float] = []
    u_all: list[float] = []
    cum_ext: list[dict[str, float]] = []
    for loops in su:
        ur = 1
        ua = 1
        for ld, f in loops:
            ua = ua * f
            cls = relevance.get(ld, "ir")
            if cls == "r":
                ur = ur * f
            elif cls == "pr":
                rel = rels[ld]
                before = min(layer.derived_size(rel.derived), rel.footprint(int(cum.get(rel.first, 1)), int(cum.get(rel.second, 1))))
                cum[ld] = cum.get(ld, 1) * f
                after = min(layer.derived_size(rel.derived), rel.footprint(int(cum.get(rel.first, 1)), int(cum.get(rel.second, 1))))
                ur = ur * (after / before)
                continue
            cum[ld] = cum.get(ld, 1) * f
        u_r.append(ur)
        u_all.append(ua)
        cum_ext.append(dict(cum))
    n_levels = len(served)
    instances = []
    for m in range(-1, n_levels):
        prod = 1
        for a in range(m + 1, n_levels + 1):
            prod = prod * u_all[a]
        instances.append(round(round(prod, 3)))
    unique = []
    for a in range(n_levels + 1):
        prod = 1
        for a2 in range(a, n_levels + 1):
            prod = prod * u_r[a2]
        unique.append(prod)
    boost = tuple(round(unique[m] / unique[m + 1]) for m in range(n_levels))
    return OperandSpatial(tuple(tuple(x) for x in su), tuple(instances), boost, tuple(cum_ext))
