"""The vendored editor bundle: pinned sources, licences that match them, nothing remote.

The bundle itself is rebuilt only by `make editor` (npm); these checks need no npm.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

STUDIO = Path(__file__).resolve().parents[2] / "flowsim" / "studio"
EDITOR = STUDIO / "editor"
STATIC = STUDIO / "static"


def test_every_npm_package_is_pinned_exactly_with_a_lockfile() -> None:
    manifest = json.loads((EDITOR / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((EDITOR / "package-lock.json").read_text(encoding="utf-8"))
    wanted = {**manifest["dependencies"], **manifest["devDependencies"]}
    assert wanted and all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in wanted.values()), wanted
    for name, version in wanted.items():
        entry = lock["packages"][f"node_modules/{name}"]
        assert entry["version"] == version
        assert entry["integrity"].startswith("sha512-")
    assert set(manifest["devDependencies"]) == {"esbuild"}  # the build tool only


def test_the_licences_name_each_bundled_package_at_its_locked_version() -> None:
    lock = json.loads((EDITOR / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    text = (STATIC / "editor.LICENSES.txt").read_text(encoding="utf-8")
    bundled = re.findall(r"^(\S+)@(\d\S*) \((\S+)\)$", text, flags=re.M)
    names = [name for name, _, _ in bundled]
    assert "@codemirror/view" in names and "@codemirror/state" in names
    for name, version, licence in bundled:
        entry = lock[f"node_modules/{name}"]
        assert (entry["version"], entry.get("dev", False)) == (version, False), name
        assert licence == entry["license"] == "MIT"
    assert text.count("Permission is hereby granted, free of charge") == len(bundled)


def test_the_bundle_is_one_minified_file_that_loads_nothing() -> None:
    js = (STATIC / "editor.js").read_text(encoding="utf-8")
    assert js.startswith("/* flowsim studio editor: CodeMirror 6")
    assert js.count("\n") < 20  # minified
    assert "window.FlowEditor" in js or "FlowEditor=" in js
    assert not re.search(r"\bimport\(|\bimportScripts\b|sourceMappingURL", js)
