"""examples/quickstart.ipynb runs from top to bottom (nbclient, a fresh kernel) and shows what it says it shows."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_notebook_executes(monkeypatch):
    nb = nbformat.read(ROOT / "examples/quickstart.ipynb", as_version=4)
    # the kernel (a child process) imports this checkout's cpmap, whatever is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    text, images = [], 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            assert out.output_type != "error", f"{out.get('ename')}: {out.get('evalue')}"
            if out.output_type == "stream" and out.name == "stdout":
                text.append(out.text)
            images += "image/png" in out.get("data", {})
    text = "".join(text)
    assert "resnet18.onnx: 21 layers on tpu_like" in text
    assert text.count("optimal") >= 3 and "Loop ordering for /layer4/layer4.0/conv2/Conv" in text
    assert "stall/slack per port" in text
    assert "/layer2/layer2.0/conv1/Conv optimal" in text  # the Pareto front, proven complete
    assert images == 4  # energy, latency, memory hierarchy, Pareto fronts
