"""Lower stages never import higher ones (data flows one way)."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "nas"
# The study package's modules are stages of their own: its pure Pareto and rung rules sit below the trial
# pipeline (which uses them), the rest above it, in the order data flows (tables before the SQL using them).
ORDER = ["candidate", "errors", "status", "yamlfile", "logs", "artifacts", "data", "models", "train", "compress",
         "deploy", "hardware", "space", "study.optuna_private", "study.pareto", "study.fidelity", "pipeline",
         "study.config", "study.early_stopping", "study.records", "dburl", "study.tables", "study.sampler",
         "study.store", "study.recovery", "study.runtime", "study.worker", "service", "api", "cli"]


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "nas" or len(parts) < 2:
        return None
    stage = ".".join(parts[1:3]) if parts[1] == "study" else parts[1]
    return stage if stage in ORDER else None


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
