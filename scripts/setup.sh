#!/usr/bin/env bash
# Set up a fresh Debian machine for edge-deploy: the Arm toolchain, QEMU, and the Python package.
#   bash scripts/setup.sh            # non-editable install (what users get)
#   EDITABLE=1 bash scripts/setup.sh # editable install, for development
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm openocd)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PY=${PYTHON:-python3}
# A CPU build of PyTorch; an unpinned 'torch' would pull a multi-GB CUDA build.
"$PY" -m pip install -q --disable-pip-version-check "${TORCH_SPEC:-torch==2.13.0}"
if [ "${EDITABLE:-0}" = "1" ]; then
  "$PY" -m pip install -q --disable-pip-version-check -e ".[test]"
else
  "$PY" -m pip install -q --disable-pip-version-check ".[test]"
fi
echo "edge-deploy set up: $(command -v edge-deploy)"
