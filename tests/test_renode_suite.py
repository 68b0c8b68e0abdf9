"""Generated Robot Framework suites for renode-test: parsed with Robot Framework's own parser,
dry-run with `robot --dryrun` against a stub of the Renode keywords, every argument bound the way
Renode's keyword server binds it, their request frames decoded, their UART steps replayed
against the same model's firmware on QEMU, and run by renode-test where Renode is installed
(skipped with the reason elsewhere)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from codegen_models import tiny_graph

from edge_deploy.boards import load_board
from edge_deploy.build.firmware_build import load_build_report
from edge_deploy.cli import main
from edge_deploy.emulators.renode_suite import (
    RENODE_NAMED_ARGUMENT,
    SuiteModel,
    render_robot_suite,
    robot_literal,
    suite_model_from_report,
    write_robot_suite,
)
from edge_deploy.errors import EdgeDeployError
from edge_deploy.link.frame import INFO, MODEL_INFO, RUN, FrameDecoder

robot_api = pytest.importorskip("robot.api", reason="robotframework is not installed (pip install robotframework)")
from robot.running.builder import ResourceFileBuilder  # noqa: E402
from robot.variables import Variables  # noqa: E402

STUB = Path(__file__).parent / "data" / "renode" / "renode_keywords_stub.robot"

RENODE_TEST_MISSING = shutil.which("renode-test") is None
TEST_NAMES = [
    "Should Boot And Announce The Model",
    "Should Answer INFO",
    "Should Describe The Model",
    "Should Run An Inference And Keep Answering",
]


def _write_suite(build_dir, out, **options):
    """write_robot_suite with the build's report read as the CLI reads it."""
    return write_robot_suite(build_dir, out, report=load_build_report(build_dir), **options)


@pytest.fixture(scope="module")
def builds(tmp_path_factory, arm_gcc):
    """The tiny model built for a Renode board and for QEMU (same model, same runtime)."""
    from edge_deploy.build.firmware_build import build_graph

    root = tmp_path_factory.mktemp("renode-suite")
    return {board: build_graph(tiny_graph(0), board, root / board) for board in ("stm32f4-discovery", "mps2-an386")}


def parse(path: Path):
    return robot_api.TestSuiteBuilder().build(str(path))


def variables(suite) -> dict[str, tuple[str, ...]]:
    return {v.name: tuple(v.value) for v in suite.resource.variables}


def steps(body) -> list[tuple[str, tuple[str, ...]]]:
    return [(step.name, tuple(step.args)) for step in body if getattr(step, "name", None)]


def renode_signatures() -> dict[str, list[str]]:
    """Parameter names of the Renode keywords, from the stub resource (Renode 1.15's)."""
    return {kw.name: list(kw.args.positional) for kw in ResourceFileBuilder().build(str(STUB)).keywords}


def robot_values(suite, **overrides: str) -> Variables:
    """The suite's variables as Robot resolves them (built-ins it uses included)."""
    store = Variables()
    store["${SPACE}"], store["${EMPTY}"] = " ", ""
    store["${byte}"] = "0xA5"   # the FOR loop variable of Send Request
    for var in suite.resource.variables:
        store[var.name] = store.replace_list(var.value) if var.name[0] == "@" else store.replace_scalar(var.value[0])
    for name, value in overrides.items():
        store["${" + name + "}"] = value
    return store


def renode_binding(keyword: str, values: list[str], params: list[str]) -> dict[str, str]:
    """Bind argument strings to ``params`` as Renode's keyword server does (Keyword.cs,
    TryParseArguments): a string that starts with ``word=`` is the named argument ``word`` and
    must name a parameter; positional arguments come first."""
    bound: dict[str, str] = {}
    named = False
    for value in values:
        match = RENODE_NAMED_ARGUMENT.match(value)
        if match:
            named = True
            if match.group(1) not in params:
                raise AssertionError(f"Renode reads {keyword} argument {value!r} as a parameter "
                                     f"'{match.group(1)}', which {keyword} does not have ({params})")
            bound[match.group(1)] = match.group(2)
        else:
            if named:
                raise AssertionError(f"{keyword}: positional argument {value!r} after a named one")
            bound[params[len(bound)]] = value
    return bound


def renode_calls(suite, store: Variables) -> list[tuple[str, dict[str, str]]]:
    """Every call to a Renode keyword in the suite (keywords and tests, loops included), with
    its arguments resolved by Robot and bound by Renode's rules."""
    signatures = renode_signatures()
    calls = []

    def walk(body):
        for step in body:
            if getattr(step, "type", "") == "FOR":
                walk(step.body)
            elif getattr(step, "name", None) in signatures:
                values = [store.replace_scalar(arg) for arg in step.args]
                calls.append((step.name, renode_binding(step.name, values, signatures[step.name])))

    for keyword in suite.resource.keywords:
        walk(keyword.body)
    for test in suite.tests:
        walk(test.body)
    return calls


def dry_run(path: Path) -> subprocess.CompletedProcess:
    """`robot --dryrun` of a suite with the stub in place of Renode's keywords."""
    return subprocess.run(
        [sys.executable, "-m", "robot", "--dryrun", "--variable", f"RENODEKEYWORDS:{STUB}",
         "--output", "NONE", "--log", "NONE", "--report", "NONE", "--console", "dotted", str(path)],
        capture_output=True, text=True, timeout=120, cwd=path.parent)


def test_suite_structure_for_a_build(builds, tmp_path):
    build = builds["stm32f4-discovery"]
    out = _write_suite(build.out_dir, tmp_path / "ci" / "suite.robot")
    text = out.read_text()
    assert [line for line in text.splitlines() if line.startswith("***")] == [
        "*** Settings ***", "*** Variables ***", "*** Keywords ***", "*** Test Cases ***"]
    suite = parse(out)
    # Settings: the renode-keywords resource and its setup/teardown keywords.
    assert [i.name for i in suite.resource.imports] == ["${RENODEKEYWORDS}"]
    assert (suite.setup.name, suite.teardown.name) == ("Setup", "Teardown")
    assert [t.name for t in suite.tests] == TEST_NAMES
    assert all(t.setup.name == "Reset Emulation" and t.teardown.name == "Test Teardown" for t in suite.tests)
    # Variables: the platform, the UART, the DWT line and the ELF through ${CURDIR}.
    values = variables(suite)
    assert values["${PLATFORM}"] == ("@platforms/boards/stm32f4_discovery-kit.repl",)
    assert values["${UART}"] == ("sysbus.usart2",)
    assert values["${DWT}"] == ("dwt: Miscellaneous.DWT @ sysbus 0xe0001000 { frequency: 168000000 }",)
    relative = Path(os.path.relpath(build.elf, out.parent)).as_posix()
    assert relative.startswith("../") and f"${{CURDIR}}/{relative}" in text   # the suite moves with its build
    assert Path(values["${ELF}"][0]).resolve() == build.elf.resolve()
    # The machine is created, given the DWT and the ELF, and watched, in that order.
    machine = steps(next(k for k in suite.resource.keywords if k.name == "Create Machine").body)
    assert machine == [
        ("Execute Command", ('mach create "${BOARD}"',)),
        ("Execute Command", ("machine LoadPlatformDescription ${PLATFORM}",)),
        ("Execute Command", ('machine LoadPlatformDescriptionFromString "${DWT}"',)),
        ("Execute Command", ("sysbus LoadELF @${ELF}",)),
        ("Create Terminal Tester", ("${UART}", "timeout=${TIMEOUT}")),
    ]
    # The layer names MODEL_INFO must list are the build's run layers (the reshape has no code),
    # each awaited line bound to Renode's `content` parameter.
    store = robot_values(suite)
    describe = suite.tests[2]
    waited = [store.replace_scalar(args[0]) for name, args in steps(describe.body) if name == "Wait For Line On Uart"]
    run_layers = [layer["short_name"] for layer in sorted(build.report["layers"], key=lambda l: l["mark"])
                  if layer["mark"] >= 0]
    assert run_layers == ["conv", "pool", "fc", "softmax"]
    assert waited[-len(run_layers) - 1:] == [f"content=n_layers={len(run_layers)}"] + [
        f"content=layer.{i}={name}" for i, name in enumerate(run_layers)]
    assert "content=input_bytes=297" in waited and "content=output_bytes=7" in waited


# Model and layer names with everything Robot Framework or Renode could read as syntax.
NASTY = SuiteModel("m=1  ${x} @{y} &{z} %{w} \\ end ", 16, 4, ("a=b", "#c", " lead", "tab\there", "=", "x" * 3))


@pytest.mark.parametrize("model", [SuiteModel("ticnn_like_int8", 297, 7, ("conv", "pool", "fc", "softmax")), NASTY],
                         ids=["plain", "robot-syntax-in-names"])
@pytest.mark.parametrize("board", ["stm32f4-discovery", "nrf52840-dk"])
def test_generated_suites_dry_run_and_bind_as_renode_binds(tmp_path, board, model):
    """Every generated suite parses, passes `robot --dryrun` against the Renode keyword stub,
    and every argument of a Renode keyword reaches the parameter it is meant for, with the
    exact text, under Renode's own `name=value` rule (the bug that failed all 4 tests)."""
    path = tmp_path / "suite.robot"
    path.write_text(render_robot_suite(board, Path("fw/firmware.elf"), model))
    result = dry_run(path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 tests, 4 passed, 0 failed" in result.stdout
    suite = parse(path)
    store = robot_values(suite)
    assert store["${MODEL}"] == model.name and store["${BOARD}"] == board
    calls = renode_calls(suite, store)
    contents = [bound["content"] for name, bound in calls if name == "Wait For Line On Uart"]
    assert all(set(bound) == {"content"} for name, bound in calls if name == "Wait For Line On Uart")
    assert f"model={model.name}" in contents and f"name={model.name}" in contents
    assert [c for c in contents if c.startswith("layer.")] == [f"layer.{i}={n}" for i, n in enumerate(model.layer_names)]
    commands = [bound["command"] for name, bound in calls if name == "Execute Command"]
    assert f'mach create "{board}"' in commands and "pause" in commands and "start" in commands
    assert f"{load_board(board).emulation.renode_uart} WriteChar 0xA5" in commands
    assert [bound for name, bound in calls if name == "Create Terminal Tester"] == [
        {"uart": load_board(board).emulation.renode_uart, "timeout": "60"}]


def test_the_checks_catch_what_renode_and_robot_reject(tmp_path):
    """The old form `Wait For Line On Uart    model=${MODEL}` passes Robot's own dry run but
    Renode reads it as a parameter `model`: the binding check fails it. A misspelt keyword or a
    broken loop fails the dry run."""
    good = render_robot_suite("stm32f4-discovery", Path("fw/firmware.elf"), SuiteModel("m", 16, 4, ("a",)))
    old = tmp_path / "old.robot"
    old.write_text(good.replace("content=model\\=${MODEL}", "model=${MODEL}", 1))
    assert dry_run(old).returncode == 0
    with pytest.raises(AssertionError, match="parameter 'model'"):
        renode_calls(parse(old), robot_values(parse(old)))
    for broken in (good.replace("Wait For Line On Uart", "Wait For Line On UART Now", 1),
                   good.replace("    END\n", "\n", 1)):
        path = tmp_path / "broken.robot"
        path.write_text(broken)
        assert dry_run(path).returncode != 0


def test_robot_literal_reads_back_exactly(tmp_path):
    texts = ["plain", "a=b", "${x}", "@{y}", "&{z}", "%{HOME}", "back\\slash", "#hash", " lead", "trail ",
             "two  spaces", "tab\t", "new\nline", "", "=", "\\${x}"]
    lines = ["*** Variables ***", *(f"${{V{i}}}    {robot_literal(t)}" for i, t in enumerate(texts))]
    path = tmp_path / "v.robot"
    path.write_text("\n".join(lines) + "\n\n*** Test Cases ***\nT\n    No Operation\n")
    store = robot_values(parse(path))
    assert [store[f"${{V{i}}}"] for i in range(len(texts))] == texts


def test_request_frames_decode_as_the_protocol_says(builds, tmp_path):
    suite = parse(_write_suite(builds["stm32f4-discovery"].out_dir, tmp_path / "suite.robot"))
    values = variables(suite)
    decoded = {}
    for name in ("@{INFO_REQUEST}", "@{MODEL_INFO_REQUEST}", "@{RUN_REQUEST}", "@{INFO_AFTER_RUN_REQUEST}"):
        frames = FrameDecoder().feed(bytes(int(cell, 16) for cell in values[name]))
        assert len(frames) == 1, name
        decoded[name] = frames[0]
    assert [decoded[n].type for n in decoded] == [INFO, MODEL_INFO, RUN, INFO]
    assert len({frame.seq for frame in decoded.values()}) == 4   # a reply is matched to its request


@pytest.mark.parametrize(("board", "uart", "clock"), [("stm32f4-discovery", "sysbus.usart2", 168_000_000),
                                                     ("nrf52840-dk", "sysbus.uart0", 64_000_000)])
def test_every_renode_board_gets_its_platform_uart_and_dwt(tmp_path, board, uart, clock):
    model = SuiteModel("m", 16, 4, ("a", "b"))
    text = render_robot_suite(board, Path("fw/firmware.elf"), model)
    path = tmp_path / "s.robot"
    path.write_text(text)
    values = variables(parse(path))
    assert values["${PLATFORM}"] == ("@" + load_board(board).emulation.renode_platform,)
    assert values["${UART}"] == (uart,)
    assert f"{{ frequency: {clock} }}" in values["${DWT}"][0]
    assert values["${CLOCK_HZ}"] == (str(clock),)
    assert render_robot_suite(board, Path("fw/firmware.elf"), model) == text   # deterministic


def test_boards_without_renode_and_wrong_board_are_refused(builds, tmp_path):
    with pytest.raises(EdgeDeployError, match="no Renode platform"):
        _write_suite(builds["mps2-an386"].out_dir, tmp_path / "s.robot")
    with pytest.raises(EdgeDeployError, match="built for board 'stm32f4-discovery', not 'nrf52840-dk'"):
        _write_suite(builds["stm32f4-discovery"].out_dir, tmp_path / "s.robot", board="nrf52840-dk")
    assert not (tmp_path / "s.robot").exists()


def test_cli_writes_the_suite_and_fails_cleanly(builds, tmp_path, capsys):
    out = tmp_path / "suite.robot"
    assert main(["renode-suite", str(builds["stm32f4-discovery"].out_dir), "--out", str(out), "--timeout", "90"]) == 0
    assert variables(parse(out))["${TIMEOUT}"] == ("90",)
    assert main(["renode-suite", str(tmp_path), "--out", str(tmp_path / "x.robot")]) == 1
    err = capsys.readouterr().err
    assert "holds no build" in err and "Traceback" not in err


class _Uart:
    """The UART side of a terminal tester, over QEMU's socket: lines containing a text."""

    def __init__(self, url: str) -> None:
        import serial

        self.port = serial.serial_for_url(url, timeout=0.05)
        self.buffer = b""

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def wait_for_line(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if text in line.decode("latin-1"):
                    return line.decode("latin-1")
            self.buffer += self.port.read(256)
        raise AssertionError(f"no line containing {text!r} on the UART within {timeout} s")


@pytest.mark.qemu
def test_suite_steps_hold_against_the_firmware_on_qemu(builds, tmp_path, qemu_arm):
    """Replays the suite's requests and line waits against the same model's firmware on QEMU:
    the frames are understood and every awaited line is what the runtime sends. QEMU drops the
    boot announcement (nobody is connected yet), so booting is not replayed, and the board,
    clock and cycle source are QEMU's (as `robot --variable` would override them)."""
    from edge_deploy.emulators import start_emulator

    suite = parse(_write_suite(builds["stm32f4-discovery"].out_dir, tmp_path / "suite.robot"))
    qemu_board = load_board("mps2-an386")
    store = robot_values(suite, BOARD=qemu_board.name, CLOCK_HZ=str(qemu_board.clock_hz), CYCLE_SOURCE="systick")
    signature = renode_signatures()["Wait For Line On Uart"]
    replayed = 0
    for test in suite.tests[1:]:
        with start_emulator(qemu_board, builds["mps2-an386"].elf, emulator="qemu") as target:
            uart = _Uart(target.url)
            for name, args in steps(test.body):
                if name == "Boot Firmware":
                    continue
                if name == "Send Request":
                    uart.write(bytes(int(cell, 16) for cell in store.replace_list(list(args))))
                elif name == "Wait For Line On Uart":
                    bound = renode_binding(name, [store.replace_scalar(a) for a in args], signature)
                    uart.wait_for_line(bound["content"])
                    replayed += 1
                else:
                    raise AssertionError(f"step {name} is not replayed")
            uart.port.close()
    assert replayed == 3 + 8 + 1


@pytest.mark.renode
@pytest.mark.skipif(RENODE_TEST_MISSING, reason="renode-test is not on PATH (no package registry carries Renode: "
                    "docs/renode.md builds it locally)")
def test_renode_test_passes_the_suite(builds, tmp_path):
    """The generated suite, run by Renode's own renode-test: 4 of 4 tests pass (read from Robot's
    output.xml: renode-test's console lines depend on which Robot Framework its python3 finds,
    and with 7.x, which this environment holds, it prints none per test)."""
    import xml.etree.ElementTree as ElementTree

    out = _write_suite(builds["stm32f4-discovery"].out_dir, tmp_path / "suite.robot")
    result = subprocess.run(["renode-test", "-r", str(tmp_path / "results"), str(out)], capture_output=True, text=True,
                            timeout=600, cwd=tmp_path, env={**os.environ, "RENODE_CI_MODE": "YES"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tests = ElementTree.parse(tmp_path / "results" / "robot_output.xml").getroot().iter("test")
    statuses = {test.get("name"): test.find("status").get("status") for test in tests}
    assert statuses == {name: "PASS" for name in TEST_NAMES}, result.stdout[-3000:]


def test_suite_model_skips_views():
    report = {"model": "m", "input": {"shape": [1, 4, 4, 1]}, "output": {"shape": [1, 3]},
              "layers": [{"index": 0, "mark": 0, "name": "a", "short_name": "a"},
                         {"index": 1, "mark": -1, "name": "flat", "short_name": "flat"},
                         {"index": 2, "mark": 1, "name": "b", "short_name": "b"}]}
    assert suite_model_from_report(report) == SuiteModel("m", 16, 3, ("a", "b"))
