"""TFLM's own example models, person_detect and micro_speech, through edge-deploy's kernels and
through upstream CMSIS-NN's, whole: instructions, modelled cycles, arena, bit-exactness.

    python benchmarks/tflm_examples.py [--examples PATH] [--work /tmp/edge-deploy-tflm-examples]
                                       [--check N] [--cmsis-nn PATH] [--markdown]
                                       [--out benchmarks/results/tflm_examples.json]

The models come from a checkout of github.com/tensorflow/tflite-micro-arduino-examples
(``--examples PATH`` or ``EDGE_DEPLOY_TFLM_EXAMPLES=PATH``), where TFLM ships them as C arrays:
``examples/person_detection/person_detect_model_data.cpp`` (MobileNet v1 0.25 on 96 x 96
grayscale) and ``examples/micro_speech/micro_features_model.cpp`` (a 10 x 8 depthwise layer over
the 49 x 40 spectrogram and a fully connected layer). Each array is written back to a ``.tflite``
file in ``--work`` (they stay out of the repository) and measured as benchmarks/mlperf_tiny.py
measures a model: ``edge-deploy build`` for the NUCLEO-L4R5ZI, ``edge-deploy profile`` at 0 wait
states and on the L4R5's flash, ``edge-deploy run --check`` on QEMU with ``--check N``, and the
same build with ``--cmsis-nn PATH`` (or ``EDGE_DEPLOY_CMSIS_NN``) for upstream's kernels.

Upstream's figure is TFLM + CMSIS-NN's kernels without TFLM's interpreter (edge-deploy's generated
calls to the same CMSIS-NN functions TFLM's CMSIS-NN kernels call), so it is a lower bound on what
TFLM + CMSIS-NN executes. Without a checkout of the examples the script prints why and exits 0 (it
has nothing to measure); exit status 1 when a check failed, a model was skipped, or the checkout
named is not a folder.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import mlperf_tiny

# The models in a checkout of tflite-micro-arduino-examples: (name, file, C array).
MODELS = (
    ("person_detect", "examples/person_detection/person_detect_model_data.cpp", "g_person_detect_model_data"),
    ("micro_speech", "examples/micro_speech/micro_features_model.cpp", "g_model"),
)
# Whole-model instructions against TFLM + CMSIS-NN's where issue 13 was filed (its text).
ISSUE_RATIO = {"person_detect": 1.34, "micro_speech": 4.78}


def model_bytes(source: str, array: str) -> bytes:
    """The bytes of the C array ``array`` in C source ``source`` (``{ 0x1c, 0x00, ... }``), checked
    to be a TFLite flatbuffer. Raises ValueError naming what is wrong."""
    found = re.search(r"\b" + re.escape(array) + r"\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;", source, re.S)
    if found is None:
        raise ValueError(f"no array {array}[] = {{...}}; in the source")
    values = re.findall(r"0x([0-9a-fA-F]{1,2})\b", found.group(1))
    if len(values) != len([v for v in found.group(1).split(",") if v.strip()]):
        raise ValueError(f"{array}[] holds something other than hexadecimal bytes")
    data = bytes(int(v, 16) for v in values)
    if data[4:8] != b"TFL3":
        raise ValueError(f"{array}[] is not a TFLite model (no TFL3 identifier at byte 4)")
    return data


def _examples_path(option: Path | None) -> Path | None:
    """The examples checkout named by ``--examples`` or EDGE_DEPLOY_TFLM_EXAMPLES, None when
    neither names one. Raises ValueError when the one named is not a folder."""
    path = option or (Path(os.environ["EDGE_DEPLOY_TFLM_EXAMPLES"]) if os.environ.get("EDGE_DEPLOY_TFLM_EXAMPLES")
                      else None)
    if path is not None and not path.is_dir():
        raise ValueError(f"{path} (--examples or EDGE_DEPLOY_TFLM_EXAMPLES) is not a folder: name a checkout of "
                         "github.com/tensorflow/tflite-micro-arduino-examples")
    return path


def extract(examples: Path, work: Path) -> list[tuple[Path | None, str]]:
    """Each model written to ``work/NAME.tflite``: (path, "") or (None, why it is missing)."""
    out = []
    for name, file, array in MODELS:
        source = examples / file
        try:
            data = model_bytes(source.read_text(encoding="utf-8", errors="replace"), array)
        except (OSError, ValueError) as exc:
            out.append((None, f"{name}: {source}: {exc}"))
            continue
        path = work / f"{name}.tflite"
        path.write_bytes(data)
        out.append((path, ""))
    return out


def _ratio(row: dict) -> float | None:
    upstream = row.get("cmsis_nn", {})
    return round(row["instructions"] / upstream["instructions"], 3) if "instructions" in upstream else None


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _markdown(rows: list[dict]) -> None:
    print("\n| model | MACs | instructions | upstream CMSIS-NN instructions | x upstream (at filing) | cycles, 0 wait "
          "states | MAC/cycle | upstream cycles, 0 wait states | ms at 120 MHz (L4R5) | arena B | flash B "
          "(weights) | run --check |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if "skipped" in r:
            continue
        cm, check = r["cmsis_nn"], r.get("check")
        print(f"| {r['model']} | {r['macs']:,} | {r['instructions']:,} | {_n(cm.get('instructions'))} | "
              f"**{r['ratio_to_upstream'] or '-'}** ({ISSUE_RATIO.get(r['model'], '-')}) | {r['cycles_zero_wait']:,} | "
              f"{r['mac_per_cycle_zero_wait']} | {_n(cm.get('cycles_zero_wait'))} | {r['ms']} | "
              f"{r['arena_bytes']:,} | {r['flash_bytes']:,} ({r['weights_bytes']:,}) | "
              f"{'-' if check is None else ('passed' if check['passed'] else 'FAILED')} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=Path, default=None,
                        help="tflite-micro-arduino-examples checkout (default: $EDGE_DEPLOY_TFLM_EXAMPLES)")
    mlperf_tiny.add_run_options(parser, "/tmp/edge-deploy-tflm-examples", "tflm_examples.json")
    args = parser.parse_args(argv)
    try:
        examples = _examples_path(args.examples)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if examples is None:
        print("skipped: no examples checkout: set EDGE_DEPLOY_TFLM_EXAMPLES=PATH (or --examples PATH) to a "
              "checkout of github.com/tensorflow/tflite-micro-arduino-examples")
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    cmsis_nn, cmsis_skip = mlperf_tiny._cmsis_nn_path(args.cmsis_nn)
    rows = []
    for path, missing in extract(examples, args.work):
        if path is None:
            print(f"\nskipped: {missing}")
            rows.append({"model": missing.split(":")[0], "skipped": missing})
            continue
        row = mlperf_tiny.run_model(path, args.work, args.check, cmsis_nn, cmsis_skip, flash_target=False)
        if "skipped" not in row:
            row["ratio_to_upstream"] = _ratio(row)
            row["ratio_at_filing"] = ISSUE_RATIO.get(row["model"])
        mlperf_tiny._print_model(row)
        if row.get("ratio_to_upstream") is not None:
            print(f"  instructions: {row['ratio_to_upstream']}x upstream CMSIS-NN's (issue 13 at filing: "
                  f"{ISSUE_RATIO.get(row['model'], '-')}x TFLM + CMSIS-NN's)")
        rows.append(row)
    if args.markdown:
        _markdown(rows)
    status = mlperf_tiny.finish(rows, args.out, "python benchmarks/tflm_examples.py " + " ".join(argv or sys.argv[1:]),
                                examples=str(examples))
    return min(status, 1)  # 2 (nothing measured): a model was skipped, and said so


if __name__ == "__main__":
    sys.exit(main())
