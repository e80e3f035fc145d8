"""Options stop at the CLI: only the argparse handlers touch ``args``; everything below takes dataclasses.

A static check of the source (no import, no model): a newcomer reading a stage module should
never have to find out which flags an ``args`` carries, nor which handler rewrote one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("inbedder", "app", "explain", "finetune")  # the folders of the installed ``inbedder`` package
# Hooks whose ``args`` is another library's (transformers' TrainingArguments), not the command line's.
FOREIGN_ARGS = {("finetune/trainer.py", "on_log")}


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _is_cli(path: Path) -> bool:
    """The argparse layer: ``inbedder/cli/`` and each package's ``cli.py`` (the modules that register subcommands)."""
    relative = path.relative_to(ROOT)
    return relative.parts[:2] == ("inbedder", "cli") or path.name.endswith("cli.py")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _functions_taking_args(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parameters = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            if any(parameter.arg == "args" for parameter in parameters):
                found.append(node)
    return found


def _mentions_namespace(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "Namespace" and isinstance(node.value, ast.Name) \
                and node.value.id == "argparse":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "argparse" \
                and any(alias.name == "Namespace" for alias in node.names):
            return True
    return False


def _writes_to_args(tree: ast.Module) -> list[int]:
    """Lines that assign to (or delete) an attribute of ``args``, or change it through setattr/vars/__dict__."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                and isinstance(node.value, ast.Name) and node.value.id == "args":
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") \
                and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "args":
            lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) \
                and node.value.func.id == "vars":
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr == "__dict__" and isinstance(node.value, ast.Name) \
                and node.value.id == "args":
            lines.append(node.lineno)
    return lines


def _handlers() -> set[str]:
    """The argparse handlers: functions set with ``set_defaults(handler=…)`` or listed in a ``handlers`` dict."""
    names = set()
    for path in filter(_is_cli, _modules()):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.keyword) and node.arg == "handler" and isinstance(node.value, ast.Name):
                names.add(node.value.id)
            named_handlers = isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "handlers" for target in node.targets)
            if named_handlers and isinstance(node.value, ast.Dict):
                names.update(value.id for value in node.value.values if isinstance(value, ast.Name))
    return names


@pytest.mark.parametrize("path", [p for p in _modules() if not _is_cli(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_below_the_cli_takes_or_names_an_argparse_namespace(path):
    tree = _tree(path)
    relative = path.relative_to(ROOT).as_posix()
    taking = [f"{node.name} (line {node.lineno})" for node in _functions_taking_args(tree)
              if (relative, node.name) not in FOREIGN_ARGS]
    assert not taking, f"{relative}: functions take `args`; pass dataclasses or plain values instead: {taking}"
    assert not _mentions_namespace(tree), f"{relative} names argparse.Namespace; only the CLI may"


def test_in_the_cli_only_handlers_and_from_args_read_the_namespace():
    handlers = _handlers()
    assert {"run_cluster", "run_embed", "run_demo", "run_assign", "run_models"} <= handlers
    helpers = [f"{path.relative_to(ROOT)}: {node.name} (line {node.lineno})"
               for path in filter(_is_cli, _modules()) for node in _functions_taking_args(_tree(path))
               if node.name not in handlers and node.name != "from_args"]
    assert not helpers, f"helpers below the handlers take `args`; give them the options instead: {helpers}"


def test_nothing_writes_to_the_parsed_arguments():
    writes = [f"{path.relative_to(ROOT)}: line {line}" for path in _modules() for line in _writes_to_args(_tree(path))]
    assert not writes, f"the parsed flags are read once into options, never rewritten: {writes}"


def test_the_ray_command_does_not_import_argparse():
    tree = _tree(ROOT / "inbedder" / "cli" / "on_ray.py")
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "argparse" not in imported
