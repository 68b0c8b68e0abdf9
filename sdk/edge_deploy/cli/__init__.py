"""The ``edge-deploy`` command line: it only wires the stages together.

Each subcommand lives in its own module (``edge_deploy.cli.<name>``) exposing a click command
named ``command``. Modules are imported only when their subcommand runs, so ``edge-deploy --help``
stays fast and does not import PyTorch. SIGTERM is handled like Ctrl-C in every command: the
running step unwinds, so emulators are stopped and temporary folders and files removed.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator

import click

from edge_deploy import __version__
from edge_deploy.errors import EdgeDeployError

# name -> (module under edge_deploy.cli, one-line help). Add a line here to add a subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "boards": ("boards_cmd", "List the boards edge-deploy can target."),
    "selftest": ("selftest_cmd", "Build the runtime firmware for a board and prove the serial link."),
    "demo": ("demo_cmd", "The whole job on a pipeline (default: TICNN on the bundled data): train, slim, quantize, build, check and profile on QEMU."),
    "train": ("train_cmd", "Train a model (or an ensemble) from a YAML config; write model.pt and metrics."),
    "evaluate": ("evaluate_cmd", "Evaluate a checkpoint's accuracy under test noise and across loads."),
    "slim": ("slim_cmd", "Slim a checkpoint: Network Slimming, Scalpel weight pruning, activation pruning."),
    "build": ("build_cmd", "Generate C for an int8 model, compile it for a board; write firmware.elf and report.json."),
    "run": ("run_cmd", "Run a build's firmware (QEMU, Renode or a board) on a batch of inputs; --check against the reference."),
    "profile": ("profile_cmd", "Profile a build per layer: instructions and cycles (QEMU + cycle model, or DWT on Renode/a board)."),
    "check": ("check_cmd", "Hold a build to budgets (cycles, arena, flash, accuracy) on the emulator; non-zero exit when exceeded."),
    "renode-suite": ("renode_suite_cmd", "Write a Robot Framework suite (renode-test) that checks a build's firmware in Renode."),
    "flash": ("flash_cmd", "Flash a build's firmware.elf to a real board through a debug probe (pyOCD or openocd)."),
    "quantize": ("quantize_cmd", "Quantize a checkpoint to int8 (TFLite scheme) and export a .tflite."),
    "inspect": ("inspect_cmd", "Show an int8 .tflite model's layers, shapes, MACs and parameter bytes."),
    "infer": ("infer_cmd", "Run the int8 reference interpreter on a batch (.tflite or checkpoint)."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        module = importlib.import_module(f"edge_deploy.cli.{entry[0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table, so listing the commands imports none of them.
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", "-v", is_flag=True, help="Show full tracebacks and debug output.")
@click.version_option(__version__, prog_name="edge-deploy")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """edge-deploy: train, slim, quantize, build, run and profile neural networks on Cortex-M4."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def _verbose_requested(args: list[str]) -> bool:
    """True if --verbose/-v is given as a group option (before the subcommand's name)."""
    for arg in args:
        if arg in ("--verbose", "-v"):
            return True
        if not arg.startswith("-"):
            return False
    return False


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so every ``finally``
    and context manager on the way out runs (emulators stopped, temporary files removed)."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` (once: a second SIGTERM during
    the clean-up is ignored so the clean-up finishes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


EXIT_INTERRUPTED = 130   # 128 + SIGINT
EXIT_TERMINATED = 143    # 128 + SIGTERM


def _interrupted(cause: BaseException | None) -> int:
    """Message and exit status for a run ended by a signal (or by click's Abort from one)."""
    if isinstance(cause, Terminated):
        click.echo("terminated", err=True)
        return EXIT_TERMINATED
    click.echo("interrupted", err=True)
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear message and exit 1 (traceback with --verbose)."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = _verbose_requested(args)
    try:
        with _sigterm_unwinds():
            cli.main(args=args, prog_name="edge-deploy", standalone_mode=False)
    except EdgeDeployError as exc:
        if verbose:
            raise
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return 1
    except OSError as exc:
        # The file system or a device refused (permission, not a directory, disk full, port gone):
        # the user's environment, not a bug, so one line naming the path.
        if verbose:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {where}{exc.strerror or exc}", err=True)
        click.echo("hint: check that the path exists and is writable (or the device is connected); "
                   "--verbose shows the traceback", err=True)
        return 1
    except click.exceptions.Abort as exc:
        # click turns KeyboardInterrupt (Ctrl-C, our SIGTERM) and EOFError into Abort.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, EOFError):
            if verbose:
                raise
            click.echo(f"error: unexpected end of input ({cause or 'a file or stream ended early'})", err=True)
            click.echo("hint: a file given to the command is empty or cut short", err=True)
            return 1
        if isinstance(cause, KeyboardInterrupt):
            return _interrupted(cause)
        click.echo("aborted", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
