"""Atomic, durable writes: results appear whole or not at all (temp file/folder + rename), and
are on disk before the rename (file and folder fsync), so a crash or power loss right after a
write leaves either the old version or the complete new one.

Temporary files from `tempfile` are created 0600 / 0700; the final files get the modes any
other file of the user would get (0666 / 0777 minus the umask).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def current_umask() -> int:
    """The process umask, read from /proc (Linux) without changing it; else set and restored."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or new file in it) to disk; a no-op where unsupported."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def finish_tree(root: Path) -> None:
    """Give every file under `root` mode 0666 and every folder 0777 minus the umask (libraries
    such as safetensors write 0600 temp files), and fsync them all, bottom-up, `root` last."""
    mask = current_umask()
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fchmod(fd, 0o666 & ~mask)
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(dirpath, 0o777 & ~mask)
        fsync_dir(Path(dirpath))


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically and durably, with the umask's file mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def folder(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder (hidden: its name starts with '.'); when the block
    succeeds, its files get the umask's modes, are flushed to disk, and the folder replaces
    `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        finish_tree(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
