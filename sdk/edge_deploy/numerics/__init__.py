"""Numerics: the integer and window arithmetic every other package builds on.

A leaf package: it imports nothing from edge-deploy except :mod:`edge_deploy.errors`.

* :mod:`edge_deploy.numerics.fixedpoint`: TFLite / CMSIS-NN fixed-point requantization, rounding.
* :mod:`edge_deploy.numerics.windows`: SAME / VALID padding, window output sizes, window gathering.
* :mod:`edge_deploy.numerics.quant`: activation ranges and requantization multipliers from scales.
"""
