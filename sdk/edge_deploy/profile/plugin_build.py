"""Build the QEMU instruction-count plugin with the host C compiler, on demand, cached.

The plugin's C source ships inside the package (``qemu_plugin/insn_count.c``). The shared
library is built the first time it is needed and kept in the user cache directory under a name
derived from the hash of the source and the compiler command, so an edited source or another
compiler rebuilds it and every later run reuses it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from edge_deploy.errors import EdgeDeployError

PLUGIN_SOURCE = Path(__file__).resolve().parent / "qemu_plugin" / "insn_count.c"
PLUGIN_NAME = "libinsn_count.so"
# -fvisibility=hidden: only the two symbols QEMU looks up are exported (see the C file).
_CFLAGS = ("-std=gnu11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-Wall", "-Wextra")
_LIBS = ("-lpthread",)


def cache_dir() -> Path:
    """Return edge-deploy's user cache directory ($EDGE_DEPLOY_CACHE, else XDG cache)."""
    env = os.environ.get("EDGE_DEPLOY_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge-deploy"


def _host_compiler() -> str:
    for name in (os.environ.get("CC"), "gcc", "cc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    raise EdgeDeployError(
        "no host C compiler found to build the QEMU profiling plugin (tried $CC, gcc, cc, clang)",
        hint="install one: apt-get install gcc",
    )


def plugin_path(*, rebuild: bool = False) -> Path:
    """Return the path of the built plugin library, building it first if needed.

    Takes ``rebuild`` to force a fresh build. Returns the ``.so`` path inside the cache.
    Raises EdgeDeployError when no host compiler exists or the build fails.
    """
    if not PLUGIN_SOURCE.is_file():
        raise EdgeDeployError(
            f"the QEMU plugin source is missing from the installation: {PLUGIN_SOURCE}",
            hint="reinstall edge-deploy with 'pip install .' from the repository root",
        )
    compiler = _host_compiler()
    source = PLUGIN_SOURCE.read_bytes()
    key = hashlib.sha256(source + "\0".join((Path(compiler).name, *_CFLAGS, *_LIBS)).encode()).hexdigest()
    target = cache_dir() / "qemu-plugin" / key[:16] / PLUGIN_NAME
    if target.is_file() and not rebuild:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: concurrent builders never see a half-written library.
    fd, tmp = tempfile.mkstemp(prefix=".build.", suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        cmd = [compiler, *_CFLAGS, "-o", tmp, str(PLUGIN_SOURCE), *_LIBS]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise EdgeDeployError(
                f"building the QEMU profiling plugin failed ({' '.join(cmd)}):\n{proc.stderr.strip()}",
                hint="check that the host gcc works (apt-get install gcc) or set $CC",
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
