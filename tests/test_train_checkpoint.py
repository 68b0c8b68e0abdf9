"""The checkpoint file: layout, reload with identical outputs, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models import build_model
from edge_deploy.train.checkpoint import Checkpoint, load_checkpoint, merge_ensemble, save_checkpoint

torch.set_num_threads(1)
ARCH = {"name": "ticnn", "params": {"channels": [4, 8, 8, 8, 8], "fc_units": 16, "input_dropout": [0.1, 0.9]}}


def _members(n: int) -> list[torch.nn.Module]:
    members = []
    for seed in range(n):
        torch.manual_seed(seed)
        model = build_model(ARCH["name"], **ARCH["params"])
        for module in model.modules():  # non-trivial BatchNorm statistics
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
        members.append(model.eval())
    return members


def _checkpoint(n: int) -> Checkpoint:
    return Checkpoint(
        arch=ARCH,
        members=_members(n),
        input={"channels": 1, "length": 2048, "sample_rate_hz": 12000},
        classes=[f"c{i}" for i in range(10)],
        data={"data": None, "load_hp": [0], "window": 2048},
        metrics={"accuracy": 0.5},
    )


@pytest.mark.parametrize("n_members", [1, 3])
def test_reload_gives_identical_outputs(tmp_path: Path, n_members: int) -> None:
    original = _checkpoint(n_members)
    save_checkpoint(tmp_path / "model.pt", original)
    loaded = load_checkpoint(tmp_path / "model.pt")
    x = torch.randn(5, 1, 2048)
    assert len(loaded.members) == n_members
    for a, b in zip(original.members, loaded.members):
        assert not b.training
        assert torch.equal(a(x), b(x))
    assert loaded.classes == original.classes and loaded.data == original.data and loaded.metrics == original.metrics


def test_file_is_the_documented_plain_dict(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "model.pt", _checkpoint(2))
    raw = torch.load(tmp_path / "model.pt", weights_only=True)
    assert raw["format"] == "edge-deploy/checkpoint" and raw["version"] == 1
    assert set(raw) == {"format", "version", "arch", "state_dicts", "input", "normalization", "classes", "data", "config", "metrics"}
    assert len(raw["state_dicts"]) == 2 and raw["normalization"] == {"kind": "zscore-per-window"}


def test_bad_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EdgeDeployError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(EdgeDeployError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(EdgeDeployError, match="not an edge-deploy checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    raw = _checkpoint(1).to_dict()
    raw["arch"]["params"]["fc_units"] = 17  # weights no longer fit the architecture
    torch.save(raw, tmp_path / "mismatch.pt")
    with pytest.raises(EdgeDeployError, match="do not fit architecture"):
        load_checkpoint(tmp_path / "mismatch.pt")


def _set(path: tuple[str, ...], value):
    def edit(raw):
        for key in path[:-1]:
            raw = raw[key]
        raw[path[-1]] = value
    return edit


def _drop(path: tuple[str, ...]):
    def edit(raw):
        for key in path[:-1]:
            raw = raw[key]
        del raw[path[-1]]
    return edit


@pytest.mark.parametrize(("edit", "words"), [
    (_drop(("arch", "name")), "lacks 'arch.name'"),                       # was KeyError
    (_set(("arch",), "ticnn"), "'arch' must be a mapping"),               # was TypeError
    (_set(("arch", "name"), 3), "'arch.name' must be an architecture name"),
    (_set(("arch", "params"), [1, 2]), "'arch.params' must be a mapping"),
    (_drop(("input", "shape")), "lacks 'input.shape'"),
    (_set(("input", "shape"), [1, 0]), "'input.shape' must be 2 to 4 positive integers"),
    (_set(("input", "shape"), "1,2048"), "'input.shape' must be 2 to 4 positive integers"),
    (_set(("input",), {"channels": 1}), "lacks 'input.length'"),          # the form before N-D inputs
    (_set(("input",), {"channels": "1", "length": 2048}), "'input.channels' must be a positive integer, not '1'"),
    (_set(("input",), {"channels": 1, "length": 0}), "'input.length' must be a positive integer, not 0"),
    (_set(("state_dicts",), {"w": 1}), "'state_dicts' must be a non-empty list"),   # was TypeError
    (_set(("state_dicts",), []), "'state_dicts' must be a non-empty list"),
    (_set(("state_dicts",), ["not a state dict"]), "'state_dicts' must be a non-empty list"),
    (_set(("classes",), None), "'classes' must be a non-empty list of class names (text), not None"),  # was TypeError
    (_set(("classes",), "abc"), "'classes' must be a non-empty list of class names"),
    (_set(("normalization",), {"mean": 0}), "'normalization' must be a mapping with a 'kind'"),
    (_set(("data",), None), "'data' must be a mapping, not None"),
    (_set(("arch", "params"), {"no_such_param": 1}), "cannot be built from its params"),
])
def test_malformed_checkpoint_contents_are_refused_by_the_schema(tmp_path: Path, edit, words) -> None:
    raw = _checkpoint(1).to_dict()
    edit(raw)
    torch.save(raw, tmp_path / "model.pt")
    with pytest.raises(EdgeDeployError) as info:
        load_checkpoint(tmp_path / "model.pt")
    assert words in info.value.message and str(tmp_path / "model.pt") in info.value.message


def test_checkpoints_from_before_nd_inputs_still_load(tmp_path: Path) -> None:
    # Written before N-D inputs: input {"channels", "length"}, data without a kind.
    raw = _checkpoint(1).to_dict()
    raw["input"] = {"channels": 1, "length": 2048, "sample_rate_hz": 12000}
    torch.save(raw, tmp_path / "old.pt")
    old = load_checkpoint(tmp_path / "old.pt")
    assert old.input == {"shape": [1, 2048], "sample_rate_hz": 12000} and old.input_shape == (1, 2048)
    save_checkpoint(tmp_path / "new.pt", old)
    assert torch.load(tmp_path / "new.pt", weights_only=True)["input"] == {"shape": [1, 2048], "sample_rate_hz": 12000}
    x = torch.randn(2, 1, 2048)
    assert torch.equal(old.model(x), load_checkpoint(tmp_path / "new.pt").model(x))


def test_merging_checkpoints_into_one_ensemble() -> None:
    a, b = _checkpoint(1), _checkpoint(2)
    merged = merge_ensemble([a, b], ["a.pt", "b.pt"])
    assert merged.members == a.members + b.members and len(a.members) == 1
    b.classes = list(reversed(b.classes))
    with pytest.raises(EdgeDeployError, match="b.pt has different classes than a.pt"):
        merge_ensemble([a, b], ["a.pt", "b.pt"])
