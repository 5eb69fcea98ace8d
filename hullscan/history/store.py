"""The store of clean clouds: a cleared inspection's hull cloud copied where the next inspection of
the vessel finds it, named by its SHA-256 (the same cloud twice is one file; a changed file shows).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hullscan.report.outputs import sha256_file


@dataclass(frozen=True)
class StoredCloud:
    path: Path
    sha256: str
    size_bytes: int


def keep_cloud(cloud: str | Path, store: Path) -> StoredCloud:
    """Copy ``cloud`` (and its ``.json`` sidecar) into ``store`` as ``<sha256>.ply``, atomically."""
    src = Path(cloud)
    digest = sha256_file(src)
    store.mkdir(parents=True, exist_ok=True)
    dest = store / f"{digest}.ply"
    for s, d in ((src.with_suffix(".json"), dest.with_suffix(".json")), (src, dest)):
        if not s.is_file() or (d.is_file() and d.stat().st_size == s.stat().st_size):
            continue
        # Copied under a temporary name, then renamed: a half copy never has the final name.
        fd, tmp = tempfile.mkstemp(dir=store, prefix=".incoming-", suffix=d.suffix)
        os.close(fd)
        try:
            shutil.copyfile(s, tmp)
            os.replace(tmp, d)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return StoredCloud(dest, digest, dest.stat().st_size)
