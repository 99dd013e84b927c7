"""Meta-tests: every extension imports and defines ``setup``."""

import importlib
import inspect

import pytest

from guildhall.bot import discover_extensions


def test_extensions_are_discovered():
    assert "cogs.meta" in discover_extensions()
    assert all(not name.split(".")[-1].startswith("_") for name in discover_extensions())


@pytest.mark.parametrize("name", discover_extensions())
def test_every_extension_defines_an_async_setup(name):
    module = importlib.import_module(name)
    assert inspect.iscoroutinefunction(getattr(module, "setup", None)), f"{name} has no async setup(bot)"
