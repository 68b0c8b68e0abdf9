"""PyTorch -> IR lowering and post-training int8 quantization (the fixed-point maths is
:mod:`edge_deploy.numerics`; the lowering imports torch).
Entry points: ``lower.lower_module`` (nn.Module -> float Graph), ``ptq.quantize_graph``
(float Graph -> int8 Graph), ``pipeline.quantize_checkpoint`` (model.pt -> int8 Graph).
"""
