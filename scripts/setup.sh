#!/usr/bin/env bash
# Set up a fresh Debian machine for edge-deploy: the Arm toolchain and QEMU (apt), then a Python
# virtual environment in .venv holding a CPU build of PyTorch and the edge-deploy package.
#   bash scripts/setup.sh              # .venv with a normal install (what users get)
#   EDITABLE=1 bash scripts/setup.sh   # .venv with an editable install, for development
#   PYTHON=/path/to/python bash scripts/setup.sh   # install into that interpreter, no .venv
#   VENV=DIR bash scripts/setup.sh     # the virtual environment in DIR instead of .venv
#   EXTRAS=test bash scripts/setup.sh  # optional extras to install (default test,ray,tensorflow:
#                                      # Ray for `slim --ray`, TensorFlow's converter for Keras
#                                      # models, and their tests)
# Afterwards: .venv/bin/edge-deploy ..., or `. .venv/bin/activate` once and then edge-deploy ...
# A virtual environment because Debian's own python3 refuses system-wide pip installs (PEP 668).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm openocd gcc make
              python3 python3-venv python3-pip)
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

if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
else
  VENV=${VENV:-.venv}
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  PY=$VENV/bin/python
fi
PIP=("$PY" -m pip install -q --disable-pip-version-check)

# PyTorch, CPU build. PyPI's Linux wheel of torch pulls several GB of CUDA libraries, so take the
# "+cpu" wheel from PyTorch's CPU index when it is reachable; otherwise from the configured indexes
# (a local mirror or wheel folder that carries the CPU wheel).
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0+cpu}
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
if ! "$PY" -c "import torch" 2>/dev/null; then
  if "$PY" - "$TORCH_CPU_INDEX" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/torch/", timeout=5)
EOF
  then
    "${PIP[@]}" --extra-index-url "$TORCH_CPU_INDEX" "$TORCH_SPEC"
  else
    "${PIP[@]}" "$TORCH_SPEC"
  fi
fi

EXTRAS=${EXTRAS:-test,ray,tensorflow}
if [ "${EDITABLE:-0}" = "1" ]; then
  "${PIP[@]}" -e ".[$EXTRAS]"
else
  "${PIP[@]}" ".[$EXTRAS]"
fi
echo "edge-deploy set up: $("$PY" -c 'import sys, pathlib; print(pathlib.Path(sys.executable).parent / "edge-deploy")')"
