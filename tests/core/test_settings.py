from __future__ import annotations

from pathlib import Path

import pytest

from mmrag.settings import Settings


def test_round_trip_and_files(tmp_path: Path) -> None:
    s = Settings().updated({"image.device": "cuda", "query.k": 7})
    assert Settings.from_dict(s.to_dict()) == s
    toml = tmp_path / "mmrag.toml"
    toml.write_text('[query]\nfusion = "weighted"\n[query.weights]\ntext = 2.0\nimage = 0.5\n')
    loaded = Settings.load(toml)
    assert loaded.query.fusion == "weighted" and loaded.query.weights == {"text": 2.0, "image": 0.5}
    assert loaded.text.model == Settings().text.model


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        Settings().updated({"query.nope": 1})
    with pytest.raises(KeyError):
        Settings.from_dict({"query": {"kk": 1}})
