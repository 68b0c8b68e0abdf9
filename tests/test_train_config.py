"""The YAML training config: the examples validate, bad keys get errors naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_deploy.errors import EdgeDeployError
from edge_deploy.train.config import load_train_config, parse_train_config


def test_examples_validate(repo_root: Path) -> None:
    bundled = load_train_config(repo_root / "examples" / "ticnn_cwru.yaml")
    assert bundled.data.path is None and bundled.tricks.batch_size == 10
    full = load_train_config(repo_root / "examples" / "ticnn_cwru_full.yaml")
    assert full.data.path == str((repo_root.parent / "shared" / "data" / "cwru").resolve())
    # Results depend on torch's thread count: the examples pin it so that reruns reproduce.
    assert bundled.training.threads == 1 and full.training.threads == 1


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"data": {"widnow": 2048}}, r"data\.widnow: unknown key"),
        ({"trainning": {}}, r"trainning: unknown key"),
        ({"training": {"epochs": "many"}}, r"training\.epochs"),
        ({"training": {"epochs": 0}}, r"training\.epochs"),
        ({"tricks": {"input_dropout": [0.5, 1.2]}}, r"tricks\.input_dropout"),
        ({"data": {"fractions": [0.9, 0.2]}}, r"data\.fractions"),
        ({"model": {"params": {"input_dropout": [0.1, 0.2]}}}, r"model\.params.*tricks\.input_dropout"),
        ({"model": {"params": {"input_length": 1024}}}, r"input_length \(1024\) differs from data\.window \(2048\)"),
    ],
)
def test_bad_keys_are_named(raw: dict, named: str) -> None:
    with pytest.raises(EdgeDeployError, match=named):
        parse_train_config(raw, "cfg.yaml")


def test_model_params_are_checked_against_the_model() -> None:
    with pytest.raises(EdgeDeployError, match=r"model\.params\.chanels: unknown key") as caught:
        parse_train_config({"model": {"params": {"chanels": [8, 8, 8, 8, 8], "fc_units": 16}}}, "cfg.yaml")
    assert "fc_units: unknown" not in str(caught.value)  # a valid key is not reported
    assert "channels" in caught.value.hint and "fc_units" in caught.value.hint
    ok = parse_train_config({"model": {"params": {"channels": [8, 8, 8, 8, 8], "fc_dropout": 0.1}}})
    assert ok.model.params["fc_dropout"] == 0.1


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(EdgeDeployError, match="does not exist"):
        load_train_config(tmp_path / "none.yaml")
    (tmp_path / "broken.yaml").write_text("data: [unclosed\n")
    with pytest.raises(EdgeDeployError, match="not valid YAML"):
        load_train_config(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(EdgeDeployError, match="must be a mapping"):
        load_train_config(tmp_path / "list.yaml")
