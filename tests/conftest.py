"""Shared test set-up: the design library in a temporary folder, never the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _library_in_a_temporary_folder(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("DRAGOPT_LIBRARY", str(tmp_path_factory.mktemp("library") / "designs.sqlite"))
    yield
    mp.undo()
