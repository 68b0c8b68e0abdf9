"""pyOCD: real probe discovery (it runs and finds no probe here), target lookup, the no-probe
errors of the library and the CLI, and matching a probe to its serial port."""

from __future__ import annotations

from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo

from edge_deploy.boards import load_board
from edge_deploy.cli import main
from edge_deploy.errors import EdgeDeployError
from edge_deploy.flash import choose_tool, flash_firmware, scan_probes
from edge_deploy.flash.pyocd_flasher import pyocd_target_known
from edge_deploy.flash.serial_ports import ports_for_probe, usb_serial_ports
from test_flash_firmware import build_elf, no_probe  # noqa: F401 (fixture)

pytest.importorskip("pyocd", reason="pyOCD is not installed (pip install pyocd)")


@pytest.fixture(scope="module")
def nrf_build(arm_gcc: str, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nrf-build")
    build_elf(arm_gcc, "nrf52840-dk", out)
    return out


def test_scan_finds_no_probe(no_probe) -> None:
    scan = scan_probes()
    assert scan.probes == ()
    assert scan.describe().startswith("found: none")


def test_target_lookup() -> None:
    assert pyocd_target_known("nrf52840")          # built into pyOCD
    assert pyocd_target_known("NRF52840")          # pyOCD normalises case
    assert not pyocd_target_known("cortex-m4-that-does-not-exist")


def test_auto_picks_pyocd_for_a_builtin_target() -> None:
    assert choose_tool(load_board("nrf52840-dk")) == "pyocd"


def test_no_probe_error(nrf_build: Path, no_probe) -> None:
    with pytest.raises(EdgeDeployError) as caught:
        flash_firmware(nrf_build, "nrf52840-dk")
    assert caught.value.message == "no debug probe found to flash board 'nrf52840-dk'; found: none"
    for fix in ("connect the board", "udev rules", "`pyocd list`", "--probe"):
        assert fix in caught.value.hint


def test_no_matching_probe_error(nrf_build: Path, no_probe) -> None:
    with pytest.raises(EdgeDeployError) as caught:
        flash_firmware(nrf_build / "firmware.elf", "nrf52840-dk", probe="0240000034544E45", tool="pyocd")
    assert caught.value.message == "no debug probe matches --probe 0240000034544E45; found: none"
    assert "`pyocd list`" in caught.value.hint


def test_cli_no_probe(nrf_build: Path, capsys, no_probe) -> None:
    code = main(["flash", str(nrf_build), "--board", "nrf52840-dk", "--tool", "pyocd"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: no debug probe found to flash board 'nrf52840-dk'; found: none\nhint: connect")
    assert "Traceback" not in err


def test_unknown_target_error(nucleo_like_board: Path, arm_gcc: str, tmp_path: Path) -> None:
    build_elf(arm_gcc, "nucleo-f446re", tmp_path)
    with pytest.raises(EdgeDeployError, match="pyOCD does not know target 'stm32f9000'") as caught:
        flash_firmware(tmp_path, nucleo_like_board, tool="pyocd")
    assert "pyocd pack install stm32f9000" in caught.value.hint


@pytest.fixture
def nucleo_like_board(tmp_path: Path) -> Path:
    """A board file naming a pyOCD target that does not exist."""
    import yaml

    from edge_deploy.boards import boards_dir

    raw = yaml.safe_load((boards_dir() / "nucleo-f446re.yaml").read_text())
    raw.update(name="nucleo-custom", flashing={"pyocd_target": "stm32f9000"})
    path = tmp_path / "nucleo-custom.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _port(device: str, serial_number: str | None) -> ListPortInfo:
    port = ListPortInfo(device, skip_link_detection=True)
    port.serial_number = serial_number
    return port


def test_ports_for_probe() -> None:
    ports = [_port("/dev/ttyACM0", "0671FF495355878281154836"), _port("/dev/ttyACM1", "000683512345"), _port("/dev/ttyUSB0", None)]
    assert ports_for_probe(ports, "000683512345") == ["/dev/ttyACM1"]
    assert ports_for_probe(ports, "0671ff495355878281154836") == ["/dev/ttyACM0"]
    # No match (or no probe known): every USB port, for the user to choose from.
    assert ports_for_probe(ports, "ABC") == ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyUSB0"]
    assert ports_for_probe(ports, None) == ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyUSB0"]


def test_usb_serial_ports_are_usb() -> None:
    ports = usb_serial_ports()
    assert all(port.vid is not None for port in ports)
    assert [port.device for port in ports] == sorted(port.device for port in ports)
