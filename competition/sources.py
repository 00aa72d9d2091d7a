"""Find a competition file's bytes the way users and Kaggle provide them.

`kaggle competitions download` leaves one `<slug>.zip` holding train.csv, test.csv, ...; people also
keep `train.csv.gz`, or gzip a file without renaming it. `read_source` takes the path the competition
expects (e.g. data/train.csv) and returns the CSV bytes from, in this order: that file (decompressed
when its first bytes are gzip's or zip's magic numbers), `<name>.gz` beside it, or a zip archive in
the folder holding a member of that name (`<slug>.zip` first). When none is there, the error lists
exactly what the folder holds.

Magic numbers: gzip 1f 8b (RFC 1952 §2.3.1), zip "PK\\x03\\x04" (PKWARE APPNOTE 4.3.7).
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from competition.errors import CompError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
MAX_LISTED = 12
"""Folder entries named in a 'not found' message."""


@dataclass(frozen=True)
class Source:
    """The bytes of one competition file and where they came from."""

    raw: bytes
    label: str
    """How messages name it: the path, or `archive.zip:member`, or `path (gzip)`."""
    note: str | None = None
    """Set when the bytes were unpacked (gzip or zip): said once in a warning."""


def _gunzip(data: bytes, label: str) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise CompError(f"{label} is gzip-compressed but could not be decompressed ({exc}); "
                        "the file is damaged or was cut short: download it again.") from None


def _zip_member(archive: Path, name: str) -> str | None:
    """The member of `archive` whose file name is `name` (at any depth); None when it has none.

    Raises CompError when the archive is damaged or holds several such members."""
    try:
        with zipfile.ZipFile(archive) as zf:
            hits = [m for m in zf.namelist() if not m.endswith("/") and Path(m).name == name]
    except (zipfile.BadZipFile, OSError) as exc:
        raise CompError(f"{archive} is not a readable zip archive ({exc}); download it again.") from None
    if len(hits) > 1:
        raise CompError(f"{archive} holds several files named {name}: {', '.join(hits)}. Unpack the one to use.")
    return hits[0] if hits else None


def _unzip(archive: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError, NotImplementedError) as exc:
        raise CompError(f"{archive}:{member} could not be unpacked ({exc}); download the archive again.") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CompError(f"{path} could not be read: {exc.strerror or exc}.") from exc


def _folder_listing(folder: Path) -> str:
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not names:
        return f"the folder {folder} is empty"
    shown = ", ".join(names[:MAX_LISTED]) + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")
    return f"the folder {folder} holds: {shown}"


def read_source(path: Path, kaggle_slug: str, what: str, hint: str) -> Source:
    """The bytes of the file the competition expects at `path` (see the module docstring).

    `what` names the file in messages ("Training"); `hint` says how to get it. Raises CompError when
    nothing fits, naming what the folder holds, or when an archive is damaged."""
    if path.is_file():
        data = _read(path)
        if data.startswith(GZIP_MAGIC):
            return Source(_gunzip(data, str(path)), str(path), f"{path} is gzip-compressed: read it decompressed")
        if data.startswith(ZIP_MAGIC):
            member = _zip_member(path, path.name)
            if member is None:
                with zipfile.ZipFile(path) as zf:
                    files = [m for m in zf.namelist() if not m.endswith("/")]
                if len(files) != 1:
                    raise CompError(f"{path} is a zip archive without a {path.name} inside "
                                    f"(it holds {', '.join(files[:MAX_LISTED]) or 'nothing'}); unpack it.")
                member = files[0]
            label = f"{path}:{member}"
            return Source(_unzip(path, member), label, f"{path} is a zip archive: read its {member}")
        return Source(data, str(path))
    if path.exists():
        raise CompError(f"{path} is not a file (a folder?): expected the competition's {path.name}.")
    folder = path.parent
    gz = path.with_name(path.name + ".gz")
    if gz.is_file():
        return Source(_gunzip(_read(gz), str(gz)), str(gz), f"read {gz} (gzip)")
    if folder.is_dir():
        archives = sorted(folder.glob("*.zip"), key=lambda p: (p.name != f"{kaggle_slug}.zip", p.name))
        for archive in archives:
            member = _zip_member(archive, path.name)
            if member is not None:
                return Source(_unzip(archive, member), f"{archive}:{member}", f"read {member} from {archive}")
    raise CompError(f"{what} file not found: {path}; {_folder_listing(folder)}. {hint}")
