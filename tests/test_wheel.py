"""The wheel installs one top-level package, jbqa, and its console script works from a fresh venv."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_wheel_adds_only_jbqa_and_answers_from_a_fresh_venv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(wheels.glob("jbqa-*.whl"))
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"jbqa"}
    names = zipfile.ZipFile(wheel).namelist()
    for stage in ("ingest", "index", "answerer", "server", "eval"):
        assert f"jbqa/{stage}/__init__.py" in names
    assert "jbqa/answerer/trained/ranker.txt" in names and "jbqa/server/static/index.html" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip())
    before = set(os.listdir(site))
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    added = set(os.listdir(site)) - before
    assert {n for n in added if not n.endswith(".dist-info")} == {"jbqa"}
    # The dependencies come from this environment rather than being installed again.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    env = dict(os.environ, JBQA_INDEX=str(tmp_path / "index"), JBQA_EMBEDDER="offline", HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [str(venv / "bin" / "jbqa"), "ask", "江北区金融机构有多少家", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert not answer["abstained"] and any("480" in a["quote"] for a in answer["answers"])


def _runtime_requirements(dist: str) -> set[str]:
    """The names of what `dist` requires outside any extra."""
    found = set()
    for requirement in metadata.requires(dist) or []:
        if "extra ==" not in requirement:
            found.add(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-"))
    return found


def test_every_module_jbqa_imports_comes_with_its_runtime_dependencies() -> None:
    """What jbqa imports (jbqa load's httpx among it) is installed with jbqa itself, not only with
    the test tools: each third-party import belongs to a runtime dependency or to one of theirs."""
    shipped, todo = set(), ["jbqa"]
    while todo:
        for name in _runtime_requirements(todo.pop()):
            if name not in shipped:
                shipped.add(name)
                with contextlib.suppress(metadata.PackageNotFoundError):
                    metadata.distribution(name)
                    todo.append(name)
    assert "httpx" in _runtime_requirements("jbqa")
    owners = metadata.packages_distributions()
    unshipped = {}
    for folder in ("jbqa", "ingest", "index", "answerer", "server", "eval"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top == "jbqa":
                        continue
                    if not {d.lower().replace("_", "-") for d in owners.get(top, [])} & shipped:
                        unshipped[top] = str(path.relative_to(REPO))
    assert unshipped == {}
