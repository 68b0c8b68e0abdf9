"""A bounds-checked flatbuffer reader: every read is checked, so a corrupt file raises
:class:`CorruptFlatbuffer` instead of crashing or reading outside the buffer."""

from __future__ import annotations

import struct

import numpy as np


class CorruptFlatbuffer(Exception):
    """The bytes are not a well-formed flatbuffer (message says where)."""


class Table:
    """One flatbuffer table at ``pos`` of ``buf``; fields are read by slot id."""

    __slots__ = ("buf", "pos", "_vtable", "_vtable_size")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        self._vtable = pos - _read(buf, "<i", pos)
        self._vtable_size = _read(buf, "<H", self._vtable)
        if self._vtable_size < 4 or self._vtable_size % 2:
            raise CorruptFlatbuffer(f"table at {pos} has a malformed vtable")

    def _field(self, slot: int) -> int:
        entry = 4 + 2 * slot
        if entry + 2 > self._vtable_size:
            return 0
        return _read(self.buf, "<H", self._vtable + entry)

    def has(self, slot: int) -> bool:
        """True when the field is present (not defaulted)."""
        return self._field(slot) != 0

    def scalar(self, slot: int, fmt: str, default):
        """Read a scalar field (``fmt`` a struct format such as ``"<i"``)."""
        offset = self._field(slot)
        return default if offset == 0 else _read(self.buf, fmt, self.pos + offset)

    def _indirect(self, slot: int) -> int | None:
        offset = self._field(slot)
        if offset == 0:
            return None
        at = self.pos + offset
        return at + _read(self.buf, "<I", at)

    def table(self, slot: int) -> Table | None:
        """Read a sub-table field (None when absent)."""
        at = self._indirect(slot)
        return None if at is None else Table(self.buf, at)

    def string(self, slot: int) -> str | None:
        """Read a string field (None when absent); invalid UTF-8 is replaced."""
        data = self.bytes(slot)
        return None if data is None else data.decode("utf-8", errors="replace")

    def bytes(self, slot: int) -> bytes | None:
        """Read a ``[ubyte]`` / string field as bytes (None when absent)."""
        at = self._indirect(slot)
        if at is None:
            return None
        count = _read(self.buf, "<I", at)
        _check_range(self.buf, at + 4, count)
        return bytes(self.buf[at + 4 : at + 4 + count])

    def array(self, slot: int, dtype: str) -> np.ndarray | None:
        """Read a vector of scalars as a NumPy array of ``dtype`` (None when absent)."""
        at = self._indirect(slot)
        if at is None:
            return None
        count = _read(self.buf, "<I", at)
        item = np.dtype(dtype)
        _check_range(self.buf, at + 4, count * item.itemsize)
        return np.frombuffer(self.buf, dtype=item.newbyteorder("<"), count=count, offset=at + 4).astype(item)

    def tables(self, slot: int) -> list[Table]:
        """Read a vector of tables (empty when absent)."""
        at = self._indirect(slot)
        if at is None:
            return []
        count = _read(self.buf, "<I", at)
        _check_range(self.buf, at + 4, 4 * count)
        return [Table(self.buf, at + 4 + 4 * i + _read(self.buf, "<I", at + 4 + 4 * i)) for i in range(count)]


def _check_range(buf: bytes, start: int, length: int) -> None:
    if start < 0 or length < 0 or start + length > len(buf):
        raise CorruptFlatbuffer(f"{length} bytes at offset {start} run past the end of the {len(buf)}-byte file")


def _read(buf: bytes, fmt: str, at: int):
    _check_range(buf, at, struct.calcsize(fmt))
    return struct.unpack_from(fmt, buf, at)[0]


def root_table(buf: bytes) -> Table:
    """The root table of a finished flatbuffer."""
    return Table(buf, _read(buf, "<I", 0))
