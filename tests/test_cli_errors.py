"""The CLI's contract for user errors: one clear line, exit 1, no traceback (unless --verbose)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edge_deploy.cli import COMMANDS


def _edge_deploy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_answers_help(name):
    result = _edge_deploy(name, "--help")
    assert result.returncode == 0, result.stderr
    assert f"Usage: edge-deploy {name}" in result.stdout


def test_an_unwritable_out_folder_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = _edge_deploy("selftest", "--board", "mps2-an386", "--out", str(blocker / "sub"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ") and str(blocker) in first and "Not a directory" in first


def test_verbose_shows_the_traceback_of_a_user_error():
    quiet = _edge_deploy("selftest", "--board", "no-such-board")
    loud = _edge_deploy("--verbose", "selftest", "--board", "no-such-board")
    assert quiet.returncode != 0 and "Traceback" not in quiet.stderr
    assert quiet.stderr.startswith("error: ") and "no-such-board" in quiet.stderr
    assert loud.returncode != 0 and "Traceback" in loud.stderr


def test_a_value_that_looks_like_the_verbose_flag_does_not_turn_it_on(tmp_path):
    # "-v" after the subcommand belongs to the subcommand (here: an unknown option), not to the group.
    result = _edge_deploy("boards", "-v")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "No such option" in result.stderr
