"""cpmap: provably optimal mapping of DNN layers onto accelerators, with ZigZag's cost model."""

__version__ = "0.1.0"
