"""Files the project writes for people: written whole or not at all, readable by others.

Every verb writes through `write_atomic`: a temporary file in the target's folder, then a
rename, so an interrupted run never leaves a half-written table; the file is mode 0644 (a
shared output, where `mkstemp` would leave 0600).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it to `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """`text` as UTF-8 into `path`, atomically."""
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
