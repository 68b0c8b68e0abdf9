"""The fixes shown with flashing errors, shared by the pyOCD and openocd paths."""

from __future__ import annotations

NO_PROBE_HINT = (
    "connect the board's debug USB port (ST-LINK, J-Link OB, DAPLink) with a data cable; on Linux install "
    "udev rules so your user can open the probe (docs/boards-hardware.md), then check that `pyocd list` "
    "shows it; with several probes attached pass --probe UNIQUE_ID"
)

OPENOCD_INSTALL_HINT = "install openocd (apt-get install openocd) or flash with pyOCD (--tool pyocd, pip install pyocd)"

OPENOCD_INTERFACES = ("interface/stlink.cfg", "interface/jlink.cfg", "interface/cmsis-dap.cfg")
