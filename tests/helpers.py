"""Helpers shared by the tests."""

from __future__ import annotations


def error_line(capsys) -> str:
    """The single stderr line of a failed command (no traceback, nothing else)."""
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dragopt: error: ")
    return lines[0]
