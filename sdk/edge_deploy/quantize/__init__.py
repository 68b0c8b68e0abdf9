"""PyTorch -> IR lowering, post-training int8 quantization and TFLite fixed-point maths.

``edge_deploy.quantize.fixedpoint`` is import-light (NumPy only); the lowering imports torch.
"""
