"""Find the serial port of a flashed board, for ``edge-deploy run/profile --port``.

On-board debuggers (ST-LINK/V2-1 and V3, J-Link OB, DAPLink) are one USB device with a debug
interface and a virtual COM port, and the USB serial number pyserial reports for the port is the
probe's unique ID that pyOCD reports. Matching the two picks the right port among several boards.
"""

from __future__ import annotations

from collections.abc import Iterable

from serial.tools.list_ports_common import ListPortInfo


def usb_serial_ports() -> list[ListPortInfo]:
    """The USB serial ports on this machine (pyserial's ``comports()``, USB ones only), sorted by device."""
    from serial.tools import list_ports

    return sorted((port for port in list_ports.comports() if port.vid is not None), key=lambda port: port.device)


def ports_for_probe(ports: Iterable[ListPortInfo], probe_id: str | None) -> list[str]:
    """Device paths of the ports that belong to probe ``probe_id`` (USB serial number equal to it,
    ignoring case); every given port when ``probe_id`` is None or matches none of them."""
    ports = list(ports)
    if probe_id is not None:
        wanted = probe_id.lower()
        matched = [port.device for port in ports if (port.serial_number or "").lower() == wanted]
        if matched:
            return matched
    return [port.device for port in ports]
