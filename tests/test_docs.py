"""The documentation: the generated configuration page names every setting; the README stays short, keeps the
set-up commands CI runs and links only to files that exist. Runs without MkDocs (the `docs` extra); CI also
builds the site with `mkdocs build --strict`."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType, SimpleNamespace

from mmrag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"
CONFIG_PAGE = ROOT / "docs" / "reference" / "configuration.md"
MAX_README_LINES = 200
# The README's first set-up command (install, index the sample corpus, ask); its pins must be .ci/run's.
FIRST_COMMAND_TAIL = (
    ' && mmrag index sample_corpus --index idx && mmrag ask "What is the battery storage capacity of the Redwood Gate'
    ' solar project in MWh?" --index idx'
)


def _load_hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{name}", ROOT / "docs" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settings_keys(cls: type = Settings, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default
        if dataclasses.is_dataclass(default):
            keys += _settings_keys(type(default), f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def _generated_config_page() -> str:
    hook = _load_hook("gen_config")
    page = SimpleNamespace(file=SimpleNamespace(src_uri="reference/configuration.md"))
    return hook.on_page_markdown(CONFIG_PAGE.read_text(encoding="utf-8"), page=page)


def _test_command() -> str:
    lines = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    commands = [line for line in lines if line.startswith("pip install torch")]
    assert len(commands) == 1, f".ci/run should run one `pip install torch…` test command, found {commands}"
    return commands[0]


def _readme_code_lines() -> set[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    return {line.strip() for block in blocks for line in block.splitlines()}


def test_every_setting_is_in_the_configuration_page():
    page = _generated_config_page()
    keys = _settings_keys()
    assert len(keys) > 50
    missing = [key for key in keys if f"`{key}`" not in page]
    assert not missing, f"settings missing from the generated configuration page: {missing}"


def test_every_setting_has_a_meaning():
    """A new setting needs a comment beside its field in mmrag/settings.py or a MEANINGS entry in docs/gen_config.py."""
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_]+\.[a-z_]+)` \|.*\| ([^|]*) \|$",
                                                        _generated_config_page(), flags=re.M)}
    undescribed = [key for key in _settings_keys() if not rows.get(key, "").strip()]
    assert not undescribed, f"settings without a meaning in the configuration page: {undescribed}"


def test_readme_is_short():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines; move detail into docs/ (at most {MAX_README_LINES})"


def test_readme_has_the_test_command_ci_runs():
    assert _test_command() in _readme_code_lines()


def test_readme_has_the_first_setup_command_with_ci_pins():
    pins = " ".join(word for word in shlex.split(_test_command()) if "==" in word)
    assert pins.startswith("torch=="), pins
    assert f"pip install {pins} -e .{FIRST_COMMAND_TAIL}" in _readme_code_lines()


def test_readme_keeps_the_figures_markers():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines.count("<!-- figures:start -->") == 1
    assert lines.count("<!-- figures:end -->") == 1
    assert lines.index("<!-- figures:start -->") < lines.index("<!-- figures:end -->")


def test_readme_relative_links_point_to_files():
    text = README.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold commands, not links
    inline = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)  # [text](target) and ![alt](target)
    targets = inline + re.findall(r"^\[[^\]]+\]:\s*(\S+)", text, flags=re.M)  # [label]: target
    relative = [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, flags=re.I) and not t.startswith("#")]
    assert relative, "the README links into docs/"
    broken = [t for t in relative if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not broken, f"README.md links to missing files: {broken}"
