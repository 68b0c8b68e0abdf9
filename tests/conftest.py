"""Shared fixtures: where the real data and tools are, and skips that say what is missing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# The tests run as `.venv/bin/python -m pytest` without activating the environment: put this
# interpreter's scripts folder first on PATH so that subprocesses find its `edge-deploy`.
_SCRIPTS = str(Path(sys.executable).parent)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _SCRIPTS:
    os.environ["PATH"] = _SCRIPTS + os.pathsep + os.environ.get("PATH", "")


def _cwru_dir() -> Path | None:
    env = os.environ.get("EDGE_DEPLOY_CWRU")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "cwru")
    for candidate in candidates:
        if (candidate / "load_0hp").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def cwru_dir() -> Path:
    """The full CWRU records (../shared/data/cwru, or $EDGE_DEPLOY_CWRU); skip when absent."""
    found = _cwru_dir()
    if found is None:
        pytest.skip("the full CWRU data is not here: expected ../shared/data/cwru or $EDGE_DEPLOY_CWRU")
    return found


@pytest.fixture(scope="session")
def arm_gcc() -> str:
    """Path of arm-none-eabi-gcc; skip when the Arm toolchain is not installed."""
    path = shutil.which("arm-none-eabi-gcc")
    if path is None:
        pytest.skip("arm-none-eabi-gcc is not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)")
    return path


@pytest.fixture(scope="session")
def qemu_arm(arm_gcc: str) -> str:
    """Path of qemu-system-arm (with the Arm toolchain); skip when missing."""
    path = shutil.which("qemu-system-arm")
    if path is None:
        pytest.skip("qemu-system-arm is not installed (apt-get install qemu-system-arm)")
    return path


@pytest.fixture(scope="module", params=["portable", "dsp"])
def kernels(request):
    """The kernels built for the host, each path (tests/kernel_runner.py); skips without gcc."""
    from kernel_runner import HostKernels

    if shutil.which("gcc") is None:
        pytest.skip("no host gcc to build the kernels")
    return HostKernels(request.param)


@pytest.fixture(scope="module")
def kernels_single_rounding():
    """The DSP path built for the host with single rounding (--rounding litert's)."""
    from kernel_runner import HostKernels

    if shutil.which("gcc") is None:
        pytest.skip("no host gcc to build the kernels")
    return HostKernels("dsp", rounding="single")
