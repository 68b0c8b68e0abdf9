"""Text that goes into generated C: every string, name and number printed into a C source passes
through one of these functions, so no input (a model name with a newline, a layer name holding
``*/``) can break the generated code."""

from __future__ import annotations

import re

import numpy as np


def comment_text(text: str) -> str:
    """``text`` made safe inside a C block comment, on one line."""
    one_line = " ".join(str(text).split())
    return one_line.replace("*/", "* /").replace("/*", "/ *")


def c_string(text: str) -> str:
    """The body of a C string literal spelling ``text`` (printable ASCII kept, everything else
    escaped; quotes and backslashes escaped)."""
    out = []
    for char in str(text):
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~" and char != "?":  # '?' could start a trigraph
            out.append(char)
        else:
            out.extend(f"\\{byte:03o}" for byte in char.encode("utf-8"))
    return "".join(out)


def c_identifier(text: str, limit: int = 40) -> str:
    """``text`` reduced to a lower-case C identifier of at most ``limit`` characters."""
    ident = re.sub(r"[^0-9a-zA-Z]+", "_", str(text)).strip("_").lower()[:limit].rstrip("_")
    if not ident or ident[0].isdigit():
        ident = "t_" + ident
    return ident


def c_float(value: float) -> str:
    """A float32 as a C literal that round-trips exactly (``0.0123f``)."""
    text = np.format_float_positional(np.float32(value), unique=True, trim="0")
    return (text + "0" if text.endswith(".") else text) + "f"


def shape_text(shape) -> str:
    """``(1, 16, 16, 3)`` for a shape."""
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def dims(shape) -> dict[str, int]:
    """An NHWC shape of rank <= 4 as ``cmsis_nn_dims`` fields (leading dimensions 1)."""
    full = [1] * (4 - len(shape)) + [int(d) for d in shape]
    return {"n": full[0], "h": full[1], "w": full[2], "c": full[3]}
