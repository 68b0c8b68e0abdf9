"""Layer descriptions for the kernel specs' ``calibration`` lists (the format of
:mod:`edge_deploy.testing.random_layers`): shapes of the networks edge-deploy builds, TICNN's 1-D
convolutions, MobileNet / DS-CNN / ResNet-style 2-D layers and classifier heads."""

from __future__ import annotations

from typing import Any


def conv1d(width: int, cin: int, taps: int, stride: int, cout: int, padding: str, **extra: Any) -> dict[str, Any]:
    """A 1-D convolution (height 1) of ``taps`` over ``width`` x ``cin``."""
    return {"in": [(1, 1, width, cin)], "w": (cout, 1, taps, cin),
            "attrs": {"stride": (1, stride), "dilation": (1, 1), "padding": padding}, **extra}


def conv2d(h: int, w: int, cin: int, cout: int, k: int, stride: int, padding: str, **extra: Any) -> dict[str, Any]:
    """A square ``k`` x ``k`` 2-D convolution."""
    return {"in": [(1, h, w, cin)], "w": (cout, k, k, cin),
            "attrs": {"stride": (stride, stride), "dilation": (1, 1), "padding": padding}, **extra}


def depthwise(h: int, w: int, cin: int, mult: int, k: int, stride: int, padding: str) -> dict[str, Any]:
    """A ``k`` x ``k`` depthwise convolution with channel multiplier ``mult``."""
    return {"in": [(1, h, w, cin)], "w": (1, k, k, cin * mult),
            "attrs": {"stride": (stride, stride), "dilation": (1, 1), "padding": padding, "depth_multiplier": mult}}


def fully_connected(depth: int, units: int, rows: int = 1, **extra: Any) -> dict[str, Any]:
    """``rows`` x ``depth`` inputs, ``units`` outputs."""
    return {"in": [(rows, depth)], "w": (units, depth), **extra}


def pool(h: int, w: int, c: int, fh: int, fw: int, padding: str = "valid") -> dict[str, Any]:
    """A pooling window ``fh`` x ``fw`` moving by itself."""
    return {"in": [(1, h, w, c)], "attrs": {"filter": (fh, fw), "stride": (fh, fw), "padding": padding}}


# TICNN-like 1-D convolutions: the wide first layer, 3-tap layers, odd shapes.
CONV_1D = [
    conv1d(512, 1, 64, 8, 16, "same"), conv1d(128, 16, 3, 1, 32, "same"), conv1d(64, 32, 3, 1, 64, "same"),
    conv1d(32, 64, 3, 1, 64, "same"), conv1d(16, 64, 3, 1, 64, "valid"), conv1d(40, 8, 5, 2, 12, "same"),
    conv1d(24, 24, 3, 1, 20, "same"), conv1d(96, 4, 9, 3, 8, "valid")]
CONV_2D = [
    conv2d(12, 12, 3, 8, 3, 2, "same"), conv2d(8, 8, 16, 16, 3, 1, "same"), conv2d(10, 10, 8, 24, 1, 1, "valid"),
    conv2d(6, 6, 32, 32, 1, 1, "valid"), conv2d(7, 5, 5, 7, 3, 1, "same"), conv2d(16, 4, 1, 12, 3, 1, "same")]


def with_pool(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The 1-D ``layers`` whose output width is even, each with a max pool 1x2 stride 2 fused."""
    out = []
    for layer in layers:
        width, taps, stride = layer["in"][0][2], layer["w"][2], layer["attrs"]["stride"][1]
        conv_width = -(-width // stride) if layer["attrs"]["padding"] == "same" else (width - taps) // stride + 1
        if conv_width % 2 == 0:
            out.append({**layer, "pool": True})
    return out


def pruned(layers: list[dict[str, Any]], *shares: float, key: str = "zero_groups") -> list[dict[str, Any]]:
    """Each of ``layers`` at each pruning share (``key``: zero_groups or zero_weights)."""
    return [{**layer, key: share} for layer in layers for share in shares]


def add_after(layers: list[dict[str, Any]], slots: tuple[int, ...]) -> list[dict[str, Any]]:
    """Each of ``layers`` with an ADD fused after it, the layer's output as the ADD's input
    ``slots[i]`` (0 or 1) and a random operand of the output's shape as the other."""
    return [{**layer, "add": slot} for layer, slot in zip(layers, slots, strict=True)]
