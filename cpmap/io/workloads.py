"""Workload loading entry point: picks the ONNX or the ZigZag-YAML front end from the file extension."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..workload import Layer
from .onnx_import import SkippedNode, load_onnx
from .workload_yaml import load_workload_yaml

_YAML_SUFFIXES = (".yaml", ".yml")


def load_workload(path: str | Path) -> tuple[list[Layer], list[SkippedNode]]:
    """Load a workload file: ``.onnx`` (ONNX model) or ``.yaml``/``.yml`` (ZigZag workload YAML).

    Returns the costed layers in file order and the skipped ONNX nodes (always empty for YAML).
    Raises :class:`InputError` for a missing file, an unknown extension or invalid content.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, None, "file not found")
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        return load_onnx(p)
    if suffix in _YAML_SUFFIXES:
        return load_workload_yaml(p), []
    raise InputError(p, None, f"unknown workload format {suffix or '(no extension)'!r}: expected .onnx, .yaml or .yml")
