"""Run a ``.tflite`` model in the TFLite interpreter (``ai-edge-litert``) as the oracle.

Uses the interpreter's reference kernels (``OpResolverType.BUILTIN_REF``; its optimized kernels
differ from them) and keeps every intermediate tensor, so each one can be compared.
"""

from __future__ import annotations

import numpy as np

from edge_deploy.errors import EdgeDeployError


def _interpreter(model: bytes):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        raise EdgeDeployError("the TFLite interpreter is not installed", "pip install ai-edge-litert") from None
    interp = Interpreter(
        model_content=bytes(model),
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    interp.allocate_tensors()
    return interp


def run_litert(model: bytes, x: np.ndarray, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Run ``model`` on each sample of the batch ``x``; return ``{tensor name: batch}``.

    ``x`` is ``(N, *input_shape[1:])`` int8 (single-input models). ``names`` selects the tensors
    to return (default: the model outputs); any tensor, intermediate ones included, may be named.
    Raises EdgeDeployError when ai-edge-litert is missing.
    """
    interp = _interpreter(model)
    details = {d["name"]: d["index"] for d in interp.get_tensor_details()}
    input_index = interp.get_input_details()[0]["index"]
    if names is None:
        names = [d["name"] for d in interp.get_output_details()]
    results: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for sample in np.asarray(x):
        interp.set_tensor(input_index, sample[None, ...])
        interp.invoke()
        for name in names:
            value = interp.get_tensor(details[name])
            results[name].append(value if value.ndim else value[None])
    return {name: np.concatenate(values) for name, values in results.items()}
