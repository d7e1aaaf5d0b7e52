"""Repository paths shared by the Python packages."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(os.environ.get("AEPRED_ROOT", Path(__file__).resolve().parent.parent))
LOCAL_DIR = Path(os.environ.get("AEPRED_LOCAL_DIR", REPO_ROOT / ".local"))
SHARED_DATA = Path(os.environ.get("AEPRED_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
