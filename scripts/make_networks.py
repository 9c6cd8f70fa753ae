#!/usr/bin/env python
"""Build cpmap's shape-only network models in ``models/networks/`` (ResNet-18, ResNet-50, MobileNetV2, AlexNet,
and the GEMMs of one BERT-base encoder layer and of one Llama-7B decoder layer in prefill and in decode).

The graphs are written from the architectures' published layer tables (channel counts, kernels, strides,
pads, groups) with ``onnx.helper``. They hold no weights: weight and bias tensors are graph inputs that only
declare their shapes, and the few tensors whose *values* shape inference needs (a Reshape target, scalar
Dropout ratios and Clip bounds) are tiny constants. The inferred shapes are stored in the file, so ZigZag's
parser (which runs no shape inference of its own) reads the files as well as cpmap does.

Node names, node order and operator types follow the ONNX exports bundled with ZigZag 3.9.1 (PyTorch-style
names such as ``/layer1/layer1.0/conv1/Conv`` for ResNet-18 and MobileNetV2, ``Op<index>`` for the Caffe2 AlexNet
export, 224x224 input, batch 1), so layer names, layer ids (node indices) and operand sources coincide and
results can be compared layer by layer. ``tests/test_workload_io.py`` checks that every costed layer is equal.
ResNet-50 and the transformer GEMM sets have no ZigZag counterpart: their names follow the same PyTorch style,
their shapes the published architectures (cited at each builder).

Usage: ``python scripts/make_networks.py [OUTPUT_DIR]`` (default: ``models/networks`` of this repository).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class GraphBuilder:
    """Accumulates the nodes of one graph; every node output is named ``<node name>_output_<i>``."""

    def __init__(self, input_name: str, input_shape: list[int]) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)]
        self.initializers: list[onnx.TensorProto] = []

    def shape_input(self, name: str, shape: list[int]) -> str:
        """A weight-like tensor known by its shape only (a graph input: no data stored)."""
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return name

    def constant(self, name: str, value: np.ndarray) -> str:
        """A small initializer whose value shape inference or the operator needs."""
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, name: str, inputs: list[str], n_outputs: int = 1, **attrs: object) -> list[str]:
        outputs = [f"{name}_output_{i}" for i in range(n_outputs)]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))
        return outputs

    def conv(
        self, name: str, x: str, c_in: int, c_out: int, k: int, stride: int, pad: int | list[int], group: int = 1,
        pytorch_attrs: bool = True,
    ) -> str:
        """A 2-D convolution with bias (batch norm folded in, as in the exported models)."""
        stem = name.strip("/").replace("/", ".")
        w = self.shape_input(f"{stem}.weight", [c_out, c_in // group, k, k])
        b = self.shape_input(f"{stem}.bias", [c_out])
        pads = pad if isinstance(pad, list) else [pad] * 4
        attrs: dict[str, object] = {"kernel_shape": [k, k], "pads": pads, "strides": [stride, stride]}
        if pytorch_attrs:  # PyTorch writes every attribute; Caffe2 omits defaults
            attrs.update(dilations=[1, 1], group=group)
        elif group != 1:
            attrs["group"] = group
        return self.node("Conv", name, [x, w, b], **attrs)[0]

    def gemm(self, name: str, x: str, c_in: int, c_out: int, pytorch_attrs: bool = True) -> str:
        """A fully connected layer ``x @ W^T + b``."""
        stem = name.strip("/").replace("/", ".")
        w = self.shape_input(f"{stem}.weight", [c_out, c_in])
        b = self.shape_input(f"{stem}.bias", [c_out])
        attrs: dict[str, object] = {"alpha": 1.0, "beta": 1.0, "transB": 1} if pytorch_attrs else {"transB": 1}
        return self.node("Gemm", name, [x, w, b], **attrs)[0]

    def model(self, graph_name: str, output: str, output_shape: list[int], opset: int) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            self.inputs,
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, output_shape)],
            initializer=self.initializers,
        )
        opsets = [helper.make_opsetid("", opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="cpmap scripts/make_networks.py")
        # The oldest IR version that carries this opset keeps the files readable by older onnx releases.
        model.ir_version = helper.find_min_ir_version_for(opsets)
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        onnx.checker.check_model(model, full_check=True)
        return model


# ----- ResNet-18 (He et al. 2016; torchvision layout, BN folded) ---------------------------------------------------
def resnet18() -> onnx.ModelProto:
    g = GraphBuilder("input", [1, 3, 224, 224])
    x = g.conv("/conv1/Conv", "input", 3, 64, k=7, stride=2, pad=3)
    x = g.node("Relu", "/relu/Relu", [x])[0]
    x = g.node("MaxPool", "/maxpool/MaxPool", [x], ceil_mode=0, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])[0]
    c_in = 64
    # Four stages of two BasicBlocks; the first block of stages 2-4 halves the resolution and has a 1x1
    # stride-2 projection ("downsample") on its shortcut.
    for stage, c_out in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            p = f"/layer{stage}/layer{stage}.{block}"
            stride = 2 if (stage > 1 and block == 0) else 1
            shortcut = x
            y = g.conv(f"{p}/conv1/Conv", x, c_in, c_out, k=3, stride=stride, pad=1)
            y = g.node("Relu", f"{p}/relu/Relu", [y])[0]
            y = g.conv(f"{p}/conv2/Conv", y, c_out, c_out, k=3, stride=1, pad=1)
            if stride != 1 or c_in != c_out:
                shortcut = g.conv(f"{p}/downsample/downsample.0/Conv", x, c_in, c_out, k=1, stride=stride, pad=0)
            y = g.node("Add", f"{p}/Add", [y, shortcut])[0]
            x = g.node("Relu", f"{p}/relu_1/Relu", [y])[0]
            c_in = c_out
    x = g.node("GlobalAveragePool", "/avgpool/GlobalAveragePool", [x])[0]
    x = g.node("Flatten", "/Flatten", [x], axis=1)[0]
    x = g.gemm("/fc/Gemm", x, 512, 1000)
    return g.model("resnet18", x, [1, 1000], opset=14)


# ----- MobileNetV2 (Sandler et al. 2018; torchvision layout, BN folded, ReLU6 exported as Clip) ------------------
# Inverted-residual settings: expansion t, output channels c, repeats n, first stride s.
MOBILENETV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _relu6(g: GraphBuilder, prefix: str, x: str) -> str:
    """ReLU6 as PyTorch exports it at opset >= 11: Clip with its bounds from two Constant nodes."""
    lo = g.node("Constant", f"{prefix}/Constant", [], value=numpy_helper.from_array(np.array(0.0, np.float32)))[0]
    hi = g.node("Constant", f"{prefix}/Constant_1", [], value=numpy_helper.from_array(np.array(6.0, np.float32)))[0]
    return g.node("Clip", f"{prefix}/Clip", [x, lo, hi])[0]


def mobilenetv2() -> onnx.ModelProto:
    g = GraphBuilder("input", [1, 3, 224, 224])
    x = g.conv("/features/features.0/features.0.0/Conv", "input", 3, 32, k=3, stride=2, pad=1)
    x = _relu6(g, "/features/features.0/features.0.2", x)
    c_in, index = 32, 1
    for t, c_out, n, s in MOBILENETV2_SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            p = f"/features/features.{index}/conv"
            hidden = c_in * t
            block_in, y, part = x, x, 0
            if t != 1:  # 1x1 expansion
                y = g.conv(f"{p}/conv.{part}/conv.{part}.0/Conv", y, c_in, hidden, k=1, stride=1, pad=0)
                y = _relu6(g, f"{p}/conv.{part}/conv.{part}.2", y)
                part += 1
            # 3x3 depthwise
            y = g.conv(f"{p}/conv.{part}/conv.{part}.0/Conv", y, hidden, hidden, k=3, stride=stride, pad=1, group=hidden)
            y = _relu6(g, f"{p}/conv.{part}/conv.{part}.2", y)
            part += 1
            # 1x1 linear projection
            y = g.conv(f"{p}/conv.{part}/Conv", y, hidden, c_out, k=1, stride=1, pad=0)
            if stride == 1 and c_in == c_out:
                y = g.node("Add", f"/features/features.{index}/Add", [block_in, y])[0]
            x, c_in, index = y, c_out, index + 1
    x = g.conv(f"/features/features.{index}/features.{index}.0/Conv", x, c_in, 1280, k=1, stride=1, pad=0)
    x = _relu6(g, f"/features/features.{index}/features.{index}.2", x)
    x = g.node("GlobalAveragePool", "/GlobalAveragePool", [x])[0]
    x = g.node("Flatten", "/Flatten", [x], axis=1)[0]
    x = g.gemm("/classifier/classifier.1/Gemm", x, 1280, 1000)  # classifier.0 (Dropout) vanishes in inference
    return g.model("mobilenetv2", x, [1, 1000], opset=14)


# ----- AlexNet (Krizhevsky et al. 2012; Caffe "bvlc_alexnet" with its two-group convolutions and LRN) ----------
def alexnet() -> onnx.ModelProto:
    g = GraphBuilder("data", [1, 3, 224, 224])
    ids = iter(range(1000))

    def name() -> str:
        return f"Op{next(ids)}"  # the Caffe2 export numbers its nodes

    def lrn(x: str) -> str:
        return g.node("LRN", name(), [x], size=5, alpha=1e-4, beta=0.75, bias=1.0)[0]

    def pool(x: str, pads: list[int]) -> str:
        return g.node("MaxPool", name(), [x], strides=[2, 2], pads=pads, kernel_shape=[3, 3])[0]

    def relu(x: str) -> str:
        return g.node("Relu", name(), [x])[0]

    x = relu(g.conv(name(), "data", 3, 96, k=11, stride=4, pad=0, pytorch_attrs=False))
    x = pool(lrn(x), [0, 0, 0, 0])
    x = relu(g.conv(name(), x, 96, 256, k=5, stride=1, pad=2, group=2, pytorch_attrs=False))
    x = pool(lrn(x), [0, 0, 0, 0])
    x = relu(g.conv(name(), x, 256, 384, k=3, stride=1, pad=1, pytorch_attrs=False))
    x = relu(g.conv(name(), x, 384, 384, k=3, stride=1, pad=1, group=2, pytorch_attrs=False))
    x = relu(g.conv(name(), x, 384, 256, k=3, stride=1, pad=1, group=2, pytorch_attrs=False))
    x = pool(x, [0, 0, 1, 1])  # 12x12 -> 6x6 (pad one row/column at the end)
    x = g.node("Reshape", name(), [x, g.constant("flatten_shape", np.array([1, 256 * 6 * 6], np.int64))])[0]
    for i, (c_in, c_out) in enumerate(((9216, 4096), (4096, 4096), (4096, 1000))):
        x = g.gemm(name(), x, c_in, c_out, pytorch_attrs=False)
        if i < 2:
            x = relu(x)
            ratio = g.constant(f"dropout_ratio_{i}", np.array(0.5, np.float32))
            x = g.node("Dropout", name(), [x, ratio], n_outputs=2)[0]
    x = g.node("Softmax", name(), [x])[0]
    return g.model("alexnet", x, [1, 1000], opset=12)


# ----- ResNet-50 (He et al. 2016, Table 1; torchvision v1.5 layout: stride on the 3x3, BN folded) ---------------
RESNET50_STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # bottleneck width, blocks; output = 4 x width


def resnet50() -> onnx.ModelProto:
    g = GraphBuilder("input", [1, 3, 224, 224])
    x = g.conv("/conv1/Conv", "input", 3, 64, k=7, stride=2, pad=3)
    x = g.node("Relu", "/relu/Relu", [x])[0]
    x = g.node("MaxPool", "/maxpool/MaxPool", [x], ceil_mode=0, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])[0]
    c_in = 64
    for stage, (width, blocks) in enumerate(RESNET50_STAGES, start=1):
        c_out = 4 * width
        for block in range(blocks):
            p = f"/layer{stage}/layer{stage}.{block}"
            stride = 2 if (stage > 1 and block == 0) else 1
            y = g.conv(f"{p}/conv1/Conv", x, c_in, width, k=1, stride=1, pad=0)
            y = g.node("Relu", f"{p}/relu/Relu", [y])[0]
            y = g.conv(f"{p}/conv2/Conv", y, width, width, k=3, stride=stride, pad=1)
            y = g.node("Relu", f"{p}/relu_1/Relu", [y])[0]
            y = g.conv(f"{p}/conv3/Conv", y, width, c_out, k=1, stride=1, pad=0)
            shortcut = x
            if block == 0:  # projection shortcut: channels change (and the resolution from stage 2 on)
                shortcut = g.conv(f"{p}/downsample/downsample.0/Conv", x, c_in, c_out, k=1, stride=stride, pad=0)
            y = g.node("Add", f"{p}/Add", [y, shortcut])[0]
            x = g.node("Relu", f"{p}/relu_2/Relu", [y])[0]
            c_in = c_out
    x = g.node("GlobalAveragePool", "/avgpool/GlobalAveragePool", [x])[0]
    x = g.node("Flatten", "/Flatten", [x], axis=1)[0]
    x = g.gemm("/fc/Gemm", x, 2048, 1000)
    return g.model("resnet50", x, [1, 1000], opset=14)


# ----- Transformer layers as GEMMs (batch 1; weights are [in, out] MatMul operands) ------------------------------
def _linear(g: GraphBuilder, name: str, x: str, c_in: int, c_out: int) -> str:
    """``x @ W`` with a constant weight of shape [c_in, c_out] (a projection; bias adds are not costed)."""
    w = g.shape_input(name.strip("/").replace("/", ".").removesuffix(".MatMul") + ".weight", [c_in, c_out])
    return g.node("MatMul", name, [x, w])[0]


def _heads(g: GraphBuilder, name: str, x: str, rows: int, heads: int, head_dim: int, key: bool = False) -> str:
    """[rows, heads*head_dim] -> [heads, rows, head_dim] (or [heads, head_dim, rows] for keys: K transposed)."""
    shape = g.constant(f"{name.strip('/').replace('/', '.')}.shape", np.array([rows, heads, head_dim], np.int64))
    y = g.node("Reshape", f"{name}/Reshape", [x, shape])[0]
    return g.node("Transpose", f"{name}/Transpose", [y], perm=[1, 2, 0] if key else [1, 0, 2])[0]


def _attention(
    g: GraphBuilder, p: str, x: str, rows: int, d_model: int, heads: int, past: int = 0
) -> str:
    """Multi-head self-attention of ``rows`` new tokens over ``past + rows`` keys: the projections, the
    per-head score and value matmuls (batched over heads, both operands computed: no constant weight) and the
    output projection. With ``past`` > 0 the cached keys and values (graph inputs) are concatenated first."""
    hd = d_model // heads
    q = _heads(g, f"{p}/q_heads", _linear(g, f"{p}/q_proj/MatMul", x, d_model, d_model), rows, heads, hd)
    k = _heads(g, f"{p}/k_heads", _linear(g, f"{p}/k_proj/MatMul", x, d_model, d_model), rows, heads, hd, key=True)
    v = _heads(g, f"{p}/v_heads", _linear(g, f"{p}/v_proj/MatMul", x, d_model, d_model), rows, heads, hd)
    if past:
        k_cache = g.shape_input(f"{p.strip('/').replace('/', '.')}.past_key", [heads, hd, past])
        v_cache = g.shape_input(f"{p.strip('/').replace('/', '.')}.past_value", [heads, past, hd])
        k = g.node("Concat", f"{p}/k_cache/Concat", [k_cache, k], axis=2)[0]
        v = g.node("Concat", f"{p}/v_cache/Concat", [v_cache, v], axis=1)[0]
    s = g.node("MatMul", f"{p}/scores/MatMul", [q, k])[0]  # [heads, rows, past + rows]
    s = g.node("Softmax", f"{p}/Softmax", [s], axis=-1)[0]
    a = g.node("MatMul", f"{p}/context/MatMul", [s, v])[0]  # [heads, rows, hd]
    a = g.node("Transpose", f"{p}/context/Transpose", [a], perm=[1, 0, 2])[0]
    shape = g.constant(f"{p.strip('/').replace('/', '.')}.merge_shape", np.array([rows, d_model], np.int64))
    a = g.node("Reshape", f"{p}/context/Reshape", [a, shape])[0]
    return _linear(g, f"{p}/o_proj/MatMul", a, d_model, d_model)


#: BERT-base (Devlin et al. 2019): hidden 768, 12 heads of 64, feed-forward 3072; sequence length 128.
BERT_BASE = dict(d_model=768, heads=12, ffn=3072, seq=128)


def bert_base_gemms() -> onnx.ModelProto:
    """One encoder layer of BERT-base (all 12 are identical): Q, K, V, attention scores, context, output
    projection, the two feed-forward GEMMs; 128 tokens, batch 1. Norms, softmax and GELU are not costed."""
    d, seq = BERT_BASE["d_model"], BERT_BASE["seq"]
    g = GraphBuilder("hidden_states", [seq, d])
    p = "/encoder/layer.0/attention"
    x = _attention(g, p, "hidden_states", seq, d, BERT_BASE["heads"])
    x = g.node("Add", f"{p}/Add", ["hidden_states", x])[0]
    h = _linear(g, "/encoder/layer.0/intermediate/dense/MatMul", x, d, BERT_BASE["ffn"])
    h = g.node("Gelu", "/encoder/layer.0/intermediate/Gelu", [h])[0]
    y = _linear(g, "/encoder/layer.0/output/dense/MatMul", h, BERT_BASE["ffn"], d)
    return g.model("bert_base_gemms", y, [seq, d], opset=20)


#: Llama-7B (Touvron et al. 2023, Table 2): dimension 4096, 32 heads of 128, SwiGLU hidden 11008 (Meta's
#: released configuration). Prefill: 512 prompt tokens; decode: one token over a 2048-token context.
LLAMA_7B = dict(d_model=4096, heads=32, ffn=11008, prefill=512, context=2048)


def _llama_layer(rows: int, past: int, graph_name: str) -> onnx.ModelProto:
    d, ffn = LLAMA_7B["d_model"], LLAMA_7B["ffn"]
    g = GraphBuilder("hidden_states", [rows, d])
    p = "/model/layers.0"
    x = _attention(g, f"{p}/self_attn", "hidden_states", rows, d, LLAMA_7B["heads"], past)
    x = g.node("Add", f"{p}/Add", ["hidden_states", x])[0]
    gate = _linear(g, f"{p}/mlp/gate_proj/MatMul", x, d, ffn)
    gate = g.node("Sigmoid", f"{p}/mlp/act_fn/Sigmoid", [gate])[0]  # SiLU's elementwise part, not costed
    up = _linear(g, f"{p}/mlp/up_proj/MatMul", x, d, ffn)
    h = g.node("Mul", f"{p}/mlp/Mul", [gate, up])[0]
    y = _linear(g, f"{p}/mlp/down_proj/MatMul", h, ffn, d)
    return g.model(graph_name, y, [rows, d], opset=20)


def llama7b_prefill_gemms() -> onnx.ModelProto:
    """One decoder layer of Llama-7B (all 32 are identical) on a 512-token prompt, batch 1."""
    return _llama_layer(LLAMA_7B["prefill"], 0, "llama7b_prefill_gemms")


def llama7b_decode_gemms() -> onnx.ModelProto:
    """One decoder layer of Llama-7B generating one token after 2047 cached ones (2048 keys), batch 1."""
    return _llama_layer(1, LLAMA_7B["context"] - 1, "llama7b_decode_gemms")


NETWORKS = {
    "resnet18": resnet18,
    "mobilenetv2": mobilenetv2,
    "alexnet": alexnet,
    "resnet50": resnet50,
    "bert_base_gemms": bert_base_gemms,
    "llama7b_prefill_gemms": llama7b_prefill_gemms,
    "llama7b_decode_gemms": llama7b_decode_gemms,
}


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "models" / "networks"
    out_dir.mkdir(parents=True, exist_ok=True)
    for net, build in NETWORKS.items():
        path = out_dir / f"{net}.onnx"
        onnx.save(build(), str(path))
        print(f"{path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
