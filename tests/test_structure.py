"""How the package hangs together: which module may import which.

The shells (CLI, web app, batch) build a request and show a result; rules and vocabulary live
in the core. So no shell imports another (the command line only hands over to the web app and
the batch runner in ``svdapp serve`` and ``svdapp batch``), nothing in the core imports a shell,
and media code (image prep, classic engine, finishing, video) imports neither a shell nor the
SVD engine.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import svdapp

ROOT = Path(svdapp.__file__).parent
SHELLS = ("svdapp.cli", "svdapp.ui", "svdapp.batch")
MEDIA = ("svdapp.imageprep", "svdapp.classic", "svdapp.finishing", "svdapp.video")
LAUNCHES = {("svdapp.cli", "svdapp.ui"), ("svdapp.cli", "svdapp.batch")}  # inside serve/batch commands only
ENTRY = {"svdapp.__main__": "svdapp.cli"}  # ``python -m svdapp`` is the command line


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, at module level?) for every import in ``path``."""
    module = _name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[:len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                found.append((base, top))
                found.extend((f"{base}.{alias.name}", top) for alias in child.names)
            visit(child, top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


def _within(name: str, owner: str) -> bool:
    return name == owner or name.startswith(owner + ".")


def _modules() -> dict[str, list[tuple[str, bool]]]:
    return {_name(p): _imports(p) for p in sorted(ROOT.rglob("*.py"))}


def test_no_shell_imports_another_and_the_core_imports_no_shell():
    wrong = []
    for module, imports in _modules().items():
        own = ENTRY.get(module) or next((s for s in SHELLS if _within(module, s)), None)
        for name, top in imports:
            other = next((s for s in SHELLS if _within(name, s)), None)
            if other is None or other == own:
                continue
            if (own, other) in LAUNCHES and not top:
                continue
            wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_media_code_imports_neither_a_shell_nor_the_svd_engine():
    wrong = [f"{module} imports {name}" for module, imports in _modules().items() if module.startswith(MEDIA)
             for name, _ in imports if name.startswith(SHELLS) or _within(name, "svdapp.engine")
             or _within(name, "svdapp.jobs")]
    assert wrong == []


def test_the_vocabulary_and_the_result_types_load_without_torch_or_opencv():
    # The engine imports these; the page and the CLI's --help must stay light too.
    code = ("import sys, svdapp.vocab, svdapp.engine_output, svdapp.result, svdapp.history, svdapp.request\n"
            "print(sorted({'torch', 'diffusers', 'cv2'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
