"""Loader of ZigZag mapping YAML files (``name``/``default`` entries with spatial mapping, hints, links)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..hardware import DEFAULT_LINKS, MEMORY_OPERANDS
from ..mapping import MappingConstraints, SpatialMapping
from ..workload import Layer
from .common import field, read_yaml

_UNROLL_RE = re.compile(r"^\s*([A-Z]+\d*)\s*,\s*(\d+)\s*$")
_DIM_RE = re.compile(r"^D\d+$")


@dataclass(frozen=True)
class MappingFile:
    """All entries of a mapping YAML; :meth:`for_layer` picks one as ZigZag does."""

    path: str
    entries: tuple[MappingConstraints, ...]

    def for_layer(self, layer: Layer) -> MappingConstraints:
        """Entry named like the layer, else like its operator type, else ``default``."""
        by_name = {e.name: e for e in reversed(self.entries)}  # first entry of a name wins
        for key in (layer.name, layer.operator_type, "default"):
            if key in by_name:
                return by_name[key]
        raise InputError(self.path, "name", "no 'default' entry")


DEFAULT_MAPPING_FILE = MappingFile("<default>", (MappingConstraints(),))


def load_mapping_yaml(path: str | Path) -> MappingFile:
    """Parse a ZigZag mapping YAML; bad input raises :class:`InputError`."""
    data = read_yaml(path)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise InputError(path, None, "expected a list of mapping entries")
    entries = tuple(_entry(e, f"[{i}]", path) for i, e in enumerate(data))
    if not any(e.name == "default" for e in entries):
        raise InputError(path, "name", "no entry named 'default'")
    return MappingFile(str(path), entries)


def _entry(d: object, w: str, path: str | Path) -> MappingConstraints:
    if not isinstance(d, dict):
        raise InputError(path, w, "expected a mapping entry")
    name = str(field(d, "name", (str, int), path, w))
    spatial = None
    sm = field(d, "spatial_mapping", dict, path, w, default=None)
    if sm is not None:
        unrollings = []
        for ad, lst in sm.items():
            if not isinstance(ad, str) or not _DIM_RE.match(ad):
                raise InputError(path, f"{w}.spatial_mapping", f"array dimension must be named D<n>, got {ad!r}")
            if not isinstance(lst, list):
                raise InputError(path, f"{w}.spatial_mapping.{ad}", "expected a list like ['K, 32']")
            pairs: dict[str, int] = {}
            for i, item in enumerate(lst):
                m = _UNROLL_RE.match(item) if isinstance(item, str) else None
                if not m:
                    raise InputError(path, f"{w}.spatial_mapping.{ad}[{i}]", f"expected '<DIM>, <factor>', got {item!r}")
                if int(m.group(2)) < 1:
                    raise InputError(path, f"{w}.spatial_mapping.{ad}[{i}]", "unroll factor must be >= 1")
                if m.group(1) in pairs:
                    raise InputError(path, f"{w}.spatial_mapping.{ad}[{i}]", f"layer dimension {m.group(1)} given twice on {ad}")
                pairs[m.group(1)] = int(m.group(2))
            unrollings.append((ad, tuple(pairs.items())))
        spatial = SpatialMapping(tuple(unrollings))
    hint: dict[str, tuple[str, ...]] = {}
    for ad, lst in (field(d, "spatial_mapping_hint", dict, path, w, default={}) or {}).items():
        if not isinstance(lst, list) or not all(isinstance(x, str) for x in lst):
            raise InputError(path, f"{w}.spatial_mapping_hint.{ad}", "expected a list of layer dims")
        hint[str(ad)] = tuple(lst)
    links = field(d, "memory_operand_links", dict, path, w, default=dict(DEFAULT_LINKS))
    linked: dict[str, str] = {}
    for op, mop in links.items():
        if not isinstance(mop, str) or mop not in MEMORY_OPERANDS:
            raise InputError(path, f"{w}.memory_operand_links.{op}", f"unknown memory operand {mop!r} (expected I1, I2 or O)")
        if mop in linked:
            # two layer operands in one memory operand would share (and overwrite) each other's tiles
            raise InputError(path, f"{w}.memory_operand_links.{op}", f"memory operand {mop} is already linked to {linked[mop]}")
        linked[mop] = str(op)
    ordering = []
    for i, item in enumerate(field(d, "temporal_ordering", list, path, w, default=[]) or []):
        ok = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
        ok = ok and ((isinstance(item[1], int) and not isinstance(item[1], bool) and item[1] >= 1) or item[1] == "*")
        if not ok:
            raise InputError(path, f"{w}.temporal_ordering[{i}]", f"expected [DIM, size] or [DIM, '*'], got {item!r}")
        ordering.append((item[0], item[1]))
    return MappingConstraints(name=name, spatial=spatial, hint=hint, operand_links=dict(links), temporal_ordering=tuple(ordering))
