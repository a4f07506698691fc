"""Writing a file all or nothing: a temporary file in the same folder, ``fsync``-ed and renamed.

Used for every result rlnet writes (``metrics.json``, checkpoints, job manifests); no torch here,
so the sweep driver can use it without importing torch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Write ``path`` all or nothing: the caller writes a temporary file in the SAME directory, which
    is flushed, ``fsync``-ed and renamed over ``path`` (``os.replace``, atomic within one filesystem).
    A temporary file elsewhere (``/tmp``) would end in a copy, not a rename, and a full disk during
    that copy leaves a partial file. On any error (disk full, kill) the temporary file is removed
    and ``path`` keeps its previous content (or stays absent).

    ``mode`` is ``'wb'`` or ``'w'`` (text, UTF-8). The file gets the permissions a plain ``open``
    would give (``0666 & ~umask``), not ``mkstemp``'s ``0600``.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_file mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.errno is not None:  # name the file, not its temporary twin
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
