"""Serial link speed on Renode: the selftest's echo check, and one 4 KiB echo, per Renode board.

    python benchmarks/renode_link.py [--repeats 3] [--board B] [--out benchmarks/results/renode_link.json]

Needs `renode` on PATH (docs/renode.md builds Renode 1.15.3 locally). For each board that Renode
emulates (stm32f4-discovery, nrf52840-dk) it builds the runtime firmware, starts it in Renode
as `edge-deploy selftest` does, and times, over the serial link:

* the echo check (15 random payloads from 1 B to 4 KiB, each way: the selftest's own check),
* 10 echoes of 4 KiB in a row (a resend costs time: a truncated frame is answered with an error),

with the resends the client needed (truncated frames) and how many runs passed (the client gives
up after 4 attempts of 5 s),

with the runner's platform settings as shipped ("fixed"), and on stm32f4-discovery also without
the setting that turns off the STM32_UART model's per-byte idle-line timer ("model default"),
which is what made the echo check take 9.9 s (docs/renode.md, "Link speed"). Each figure is the
median of --repeats runs, each in a fresh Renode. Printed and written as JSON.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk"))
from provenance import source_state  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BOARDS = ("stm32f4-discovery", "nrf52840-dk")
ECHOES_4K = 10


def measure(board: str, elf: Path, *, uart_fix: bool) -> dict:
    """One fresh Renode: the selftest's echo check, then one 4 KiB echo, timed."""
    from edge_deploy import selftest
    from edge_deploy.emulators import renode
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.link import DeviceClient

    saved = dict(renode._CONSOLE_MODELS)
    if not uart_fix:
        renode._CONSOLE_MODELS.clear()
    try:
        with renode.start_renode(board, elf) as target, DeviceClient(target.url) as device:
            device.info()
            out = {}
            for name, body in (("echo_check", lambda: selftest._check_echo(device, random.Random(0))),
                               ("echo_4k", lambda: [device.echo(random.Random(i).randbytes(4096))
                                                    for i in range(ECHOES_4K)])):
                resends, start = device.resends, time.monotonic()
                try:
                    body()
                    passed = True
                except EdgeDeployError:   # the client gave up: timed out after its resends
                    passed = False
                out.update({f"{name}_s": time.monotonic() - start, f"{name}_resends": device.resends - resends,
                            f"{name}_passed": passed})
            return out
    finally:
        renode._CONSOLE_MODELS.update(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--board", action="append", choices=BOARDS, help="Only this board (repeatable; default both).")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "renode_link.json"))
    args = parser.parse_args(argv)
    from edge_deploy.emulators.renode import find_renode
    from edge_deploy.profile.renode_ge_flags import renode_version
    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.toolchain import compile_runtime

    renode = find_renode()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edge-deploy-renode-link-") as tmp:
        for board in args.board or BOARDS:
            elf = compile_runtime(board, Path(tmp) / board).elf
            for uart_fix in (True, False) if board == "stm32f4-discovery" else (True,):
                runs = [measure(board, elf, uart_fix=uart_fix) for _ in range(args.repeats)]
                row = {"board": board, "platform": "fixed" if uart_fix else "model default",
                       **{key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0]
                          if not key.endswith("_passed")},
                       **{key: sum(run[key] for run in runs) for key in runs[0] if key.endswith("_passed")}}
                rows.append(row)
                print(f"{board:18} {row['platform']:14} echo check {row['echo_check_s']:6.2f} s "
                      f"({row['echo_check_resends']} resends, passed {row['echo_check_passed']}/{args.repeats})   "
                      f"10 x 4 KiB echo {row['echo_4k_s']:6.2f} s ({row['echo_4k_resends']} resends, "
                      f"passed {row['echo_4k_passed']}/{args.repeats})")
    atomic_write_json(args.out, {
        "benchmark": "renode_link", "renode": ".".join(map(str, renode_version(renode) or ())),
        "renode_path": shutil.which("renode"), "repeats": args.repeats, "rows": rows,
        **source_state("sdk/edge_deploy/emulators", "firmware/runtime", "benchmarks/renode_link.py"),
    })
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
