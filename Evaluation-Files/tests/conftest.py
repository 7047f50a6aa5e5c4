"""Shared fixtures: both pipeline scripts imported by file path, and the fixture directory.

The scripts are not a package (they live in Evaluation-Files/, named like the seed names
them), so they are loaded with importlib from their location relative to this file. That
keeps ``python -m pytest -q Evaluation-Files/tests`` working from the repo root (CI) or any
other working directory.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TESTS_DIR = Path(__file__).resolve().parent
EVALUATION_DIR = TESTS_DIR.parent
FIXTURES = TESTS_DIR / "fixtures"


def load_script(name: str) -> ModuleType:
    """Import ``Evaluation-Files/<name>.py`` once, registered in sys.modules under ``name``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EVALUATION_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before exec: dataclasses look their module up in sys.modules.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def fixed() -> ModuleType:
    return load_script("fixed_pipeline_code")


@pytest.fixture(scope="session")
def broken() -> ModuleType:
    return load_script("broken_pipeline_code")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
