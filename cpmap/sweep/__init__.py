"""``cpmap sweep``: architecture x mapping design-space exploration on Dask.

- :mod:`cpmap.sweep.spec`: the sweep specification (SPEC.yaml), its parameters (dotted paths into the hardware
  YAML), the memory library, the hardware variants and the tasks with their stable ids;
- :mod:`cpmap.sweep.execute`: running the tasks on a Dask cluster, resumably, writing each result atomically;
- :mod:`cpmap.sweep.outputs`: ``points.csv``, ``pareto.csv``, the comparison table;
- :mod:`cpmap.sweep.plots`: the matplotlib figures.
"""
