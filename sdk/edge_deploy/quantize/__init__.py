"""PyTorch -> IR lowering, post-training int8 quantization and TFLite fixed-point maths.

``edge_deploy.quantize.fixedpoint`` is import-light (NumPy only); the lowering imports torch.
Entry points: ``lower.lower_module`` (nn.Module -> float Graph), ``ptq.quantize_graph``
(float Graph -> int8 Graph), ``pipeline.quantize_checkpoint`` (model.pt -> int8 Graph).
"""
