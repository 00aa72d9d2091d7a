"""The real `kaggle` package, imported lazily: importing it prints a banner and, without
credentials, `authenticate()` raises SystemExit. Both become one clear CompError here."""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path
from typing import Any

from competition.errors import CompError

CREDENTIALS_HELP = (
    "Kaggle credentials not found. Set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY, or put your "
    "kaggle.json (Kaggle > Settings > API > Create New Token) in ~/.kaggle/kaggle.json (chmod 600). "
    "You must also accept the competition's rules on its Kaggle page."
)


def api() -> Any:
    """An authenticated KaggleApi, or a CompError saying how to set credentials."""
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            from kaggle.api.kaggle_api_extended import KaggleApi

            client = KaggleApi()
            client.authenticate()
    except SystemExit as exc:
        raise CompError(CREDENTIALS_HELP) from exc
    except ImportError as exc:
        raise CompError("The `kaggle` package is not installed: pip install kaggle") from exc
    except Exception as exc:
        raise CompError(f"Kaggle authentication failed: {exc}. {CREDENTIALS_HELP}") from exc
    return client


NO_DOWNLOAD_HELP = (
    "No token needed if you have the files: put train.csv and test.csv in a folder and run "
    "`make train DATA_DIR=/path/to/folder-with-train.csv` (or `comp train <competition> --data-dir /path/to/folder`)."
)


def download(slug: str, data_dir: Path) -> list[Path]:
    """Download and unzip a competition's files into `data_dir`; CompError without credentials
    (saying how to set them, or how to train on files already at hand) or when Kaggle refuses."""
    try:
        client = api()
    except CompError as exc:
        raise CompError(f"{exc} {NO_DOWNLOAD_HELP}") from exc.__cause__
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        client.competition_download_files(slug, path=str(data_dir), quiet=False)
    except Exception as exc:
        raise CompError(f"Kaggle download of {slug!r} failed: {exc}. Did you accept the competition rules?") from exc
    archive = data_dir / f"{slug}.zip"
    if archive.exists():
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(data_dir)
        archive.unlink()
    return sorted(p for p in data_dir.iterdir() if p.is_file())


def submit(slug: str, file: Path, message: str) -> str:
    client = api()
    try:
        result = client.competition_submit(str(file), message, slug)
    except Exception as exc:
        raise CompError(f"Kaggle submission to {slug!r} failed: {exc}") from exc
    return str(getattr(result, "message", result) or "submitted")
