"""Mapping model: spatial unrolling over the array, one temporal loop order, per-operand level splits.

A mapping is engine-independent data: the spatial mapping in user format (per array dim, the layer dims
unrolled there and their factors; several layer dims on one array dim = mixed unrolling), the temporal loop
nest innermost first, and for each layer operand the number of loops stored at or below each of its
memory levels. Memory-operand links (layer operand -> I1/I2/O) come with it because the level indices
refer to each operand's own chain of memories.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .hardware import DEFAULT_LINKS


@dataclass(frozen=True)
class SpatialMapping:
    """Per array dim, the ``(layer dim, unroll factor)`` pairs in user order (ZigZag's user format)."""

    unrollings: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]

    @staticmethod
    def from_dict(d: dict[str, dict[str, int]]) -> "SpatialMapping":
        return SpatialMapping(tuple((ad, tuple((ld, int(f)) for ld, f in dims.items())) for ad, dims in d.items()))

    def as_dict(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for ad, dims in self.unrollings:
            inner = out.setdefault(ad, {})
            for ld, f in dims:
                inner[ld] = inner.get(ld, 1) * f
        return out

    def factors_on(self, array_dim: str) -> tuple[tuple[str, int], ...]:
        for ad, dims in self.unrollings:
            if ad == array_dim:
                return dims
        return ()


@dataclass(frozen=True)
class TemporalMapping:
    """One loop order (innermost first) and, per layer operand, its split into memory levels.

    ``cuts[o][m]`` = number of loops (from the innermost) held at levels ``0..m`` of operand ``o``;
    the last cut equals ``len(loops)`` (the top memory holds the rest).
    """

    loops: tuple[tuple[str, int], ...]
    cuts: dict[str, tuple[int, ...]] = field(hash=False)

    def levels(self, operand: str) -> list[list[tuple[str, int]]]:
        """The per-level loop lists of an operand (before the stationarity merge-down)."""
        out, start = [], 0
        for c in self.cuts[operand]:
            out.append(list(self.loops[start:c]))
            start = c
        return out

    def level_of_loop(self, operand: str, position: int) -> int:
        for m, c in enumerate(self.cuts[operand]):
            if position < c:
                return m
        raise IndexError(position)

    @staticmethod
    def from_levels(levels: dict[str, list[list[tuple[str, int]]]], order: list[tuple[str, int]]) -> "TemporalMapping":
        """Build from per-operand level lists that all concatenate to ``order``."""
        cuts = {}
        for op, lv in levels.items():
            acc, cs = 0, []
            for loops in lv:
                acc += len(loops)
                cs.append(acc)
            flat = [lp for loops in lv for lp in loops]
            if [tuple(x) for x in flat] != [tuple(x) for x in order]:
                raise ValueError(f"levels of operand {op} do not follow the loop order")
            cuts[op] = tuple(cs)
        return TemporalMapping(tuple(tuple(x) for x in order), cuts)


@dataclass(frozen=True)
class Mapping:
    """A complete mapping of one layer onto one accelerator."""

    spatial: SpatialMapping
    temporal: TemporalMapping
    operand_links: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LINKS), hash=False)


@dataclass(frozen=True)
class MappingConstraints:
    """What a ZigZag mapping-YAML entry says about one layer.

    ``spatial`` may be partial (some array dims left to the generator) or ``None``; ``hint`` lists, per array
    dim, the layer dims the generator may unroll there; ``temporal_ordering`` is ZigZag's user ordering,
    innermost first, with sizes or ``'*'``.
    """

    name: str = "default"
    spatial: SpatialMapping | None = None
    hint: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    operand_links: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LINKS), hash=False)
    temporal_ordering: tuple[tuple[str, int | str], ...] = ()
