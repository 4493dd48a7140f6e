"""The package's lazy ``__init__``: every public name resolves to the object its module
defines, and the lazy table, the type checkers' imports and ``__all__`` list the same names
(a name added to one and not the others would be invisible or broken)."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

import vllm_client


def _type_checking_imports() -> dict[str, str]:
    """name -> module of the imports under ``if TYPE_CHECKING:`` in ``__init__``."""
    tree = ast.parse(inspect.getsource(vllm_client))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                for alias in stmt.names:
                    found[alias.asname or alias.name] = "." * stmt.level + (stmt.module or "")
    return found


def test_lazy_table_type_checking_imports_and_all_agree() -> None:
    lazy = vllm_client._MODULE_OF
    assert _type_checking_imports() == lazy
    assert set(vllm_client.__all__) == {*lazy, "__version__"}
    assert len(vllm_client.__all__) == len(set(vllm_client.__all__))


@pytest.mark.parametrize("name", sorted(vllm_client._MODULE_OF))
def test_every_public_name_is_its_modules_object(name: str) -> None:
    module = importlib.import_module(vllm_client._MODULE_OF[name], "vllm_client")
    assert getattr(vllm_client, name) is getattr(module, name)
    assert name in dir(vllm_client)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        vllm_client.NoSuchThing  # noqa: B018
    assert not hasattr(vllm_client, "_private_nothing")


def test_star_import_gets_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from vllm_client import *", namespace)
    assert namespace["VllmClient"] is vllm_client.VllmClient
    assert set(vllm_client.__all__) <= set(namespace)
