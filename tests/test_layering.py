"""Lower stages never import higher ones (data flows one way)."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "nas"
ORDER = ["candidate", "errors", "status", "yamlfile", "logs", "data", "models", "train", "compress", "deploy",
         "hardware", "space", "optuna_private", "front", "fidelity", "pipeline", "early_stopping", "study_config",
         "records", "db", "study", "recovery", "workers", "service", "api", "cli"]


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "nas" and parts[1] in ORDER else None


def test_no_module_imports_a_higher_stage():
    problems = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        own = _stage(".".join(rel.parts))
        if own is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                other = _stage(name)
                if other and ORDER.index(other) > ORDER.index(own):
                    problems.append(f"{rel}: imports {name} ({other} is above {own})")
    assert not problems, "\n".join(problems)
