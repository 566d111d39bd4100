"""Locating the native `pt2tflite` CLI that the wheel installs next to the Python scripts."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig


def native_cli() -> str:
    """Path of the native converter executable (no Python needed to run it)."""
    candidates = [
        os.path.join(sysconfig.get_path("scripts"), "pt2tflite"),
        os.path.join(os.path.dirname(sys.executable), "pt2tflite"),
    ]
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("pt2tflite")
    if found:
        return found
    raise FileNotFoundError("the native pt2tflite CLI is not installed; reinstall the package (pip install .)")
