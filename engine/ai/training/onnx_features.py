"""Expose the per-view pooled backbone features of an exported ONNX model as
extra graph outputs, without retraining or re-exporting.

The network (engine/ai/network.py) pools each view's stride-32 backbone
features globally (the ``gap`` layer) before the density head; the tf2onnx
export computes them as a GlobalAveragePool followed by a Squeeze, once per
input.  This adds an Identity of each of those tensors as a graph output
named ``features_cc`` / ``features_mlo`` (after the five existing outputs, so
their order is unchanged).  Done offline with the ``onnx`` package when a
package is built; the runtime only reads the result.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from engine.ai.runtime import FEATURE_NAMES

FEATURE_LAYER = "gap"


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def _graph_inputs_behind(graph: onnx.GraphProto, tensor: str) -> set[str]:
    """Which graph inputs ``tensor`` depends on."""
    producers = _producers(graph)
    inputs = {i.name for i in graph.input}
    seen: set[str] = set()
    found: set[str] = set()
    stack = [tensor]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in inputs:
            found.add(name)
        node = producers.get(name)
        if node is not None:
            stack.extend(node.input)
    return found


def _pooled_tensors(graph: onnx.GraphProto) -> dict[str, str]:
    """Graph input name -> the (batch, channels) pooled feature tensor of that view."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    found: dict[str, str] = {}
    for node in graph.node:
        if node.op_type != "GlobalAveragePool" or f"/{FEATURE_LAYER}" not in node.name:
            continue
        pooled = node.output[0]
        squeeze = [c for c in consumers.get(pooled, []) if c.op_type in ("Squeeze", "Reshape")]
        tensor = squeeze[0].output[0] if squeeze else pooled
        behind = _graph_inputs_behind(graph, tensor)
        if len(behind) != 1:
            raise ValueError(f"pooled features {tensor} depend on inputs {sorted(behind)}")
        found[behind.pop()] = tensor
    return found


def _channels(model: onnx.ModelProto, tensor: str) -> int | None:
    inferred = onnx.shape_inference.infer_shapes(model)
    for vi in [*inferred.graph.value_info, *inferred.graph.output]:
        if vi.name == tensor:
            dims = vi.type.tensor_type.shape.dim
            if dims and dims[-1].HasField("dim_value"):
                return int(dims[-1].dim_value)
    return None


def add_feature_outputs(src: Path, dst: Path | None = None) -> dict[str, str]:
    """Write ``src`` with the feature outputs added to ``dst`` (default: in place).

    Returns output name -> the internal tensor it copies.  A model that
    already has the outputs is left as it is.
    """
    model = onnx.load(str(src))
    graph = model.graph
    existing = {o.name for o in graph.output}
    if set(FEATURE_NAMES) <= existing:
        if dst is not None and Path(dst) != Path(src):
            onnx.save(model, str(dst))
        return {}
    pooled = _pooled_tensors(graph)
    views = {"features_cc": "cc", "features_mlo": "mlo"}
    missing = [v for v in views.values() if v not in pooled]
    if missing:
        raise ValueError(f"no pooled features found for input(s) {missing}")
    added: dict[str, str] = {}
    for out_name in FEATURE_NAMES:
        tensor = pooled[views[out_name]]
        channels = _channels(model, tensor)
        graph.node.append(helper.make_node("Identity", [tensor], [out_name], name=out_name))
        graph.output.append(
            helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", channels])
        )
        added[out_name] = tensor
    onnx.checker.check_model(model)
    onnx.save(model, str(dst or src))
    return added
