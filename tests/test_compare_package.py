"""focalboost.compare as a package: its lazy top-level names, and that it is a client of
focalboost's public API only (no private module or name of the library)."""

import ast
from pathlib import Path

import pytest

import focalboost.compare as package
from focalboost.compare import cli, engine, settings

PACKAGE_DIR = Path(package.__file__).parent


def test_top_level_names_are_the_modules_objects():
    assert package.Settings is settings.Settings and package.CLIError is settings.CLIError
    assert package.run_comparison is engine.run_comparison
    assert package.Comparison is engine.Comparison
    assert package.main is cli.main
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        package.nothing  # noqa: B018


def _library_imports(path):
    """(module, name) for every import of focalboost outside focalboost.compare in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.split(".")[0] == "focalboost"]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:  # from .. import x: the library, reached relatively
                found += [("." * node.level + (node.module or ""), a.name) for a in node.names]
            elif node.level == 0 and (node.module or "").split(".")[0] == "focalboost":
                found += [(node.module, a.name) for a in node.names]
    return [(m, n) for m, n in found if not m.startswith("focalboost.compare")]


def test_only_the_public_api_of_the_library():
    imports = {p.name: _library_imports(p) for p in sorted(PACKAGE_DIR.glob("*.py"))}
    assert imports["engine.py"]  # the check sees the imports it is about
    for name, found in imports.items():
        for module, attr in found:
            assert not module.startswith("."), (name, module)  # absolute imports of the library
            parts = module.split(".") + ([attr] if attr else [])
            assert not any(p.startswith("_") for p in parts if p != "__version__"), (name, module, attr)
