"""Bad-input cases for the real `comp` CLI, shared by tests/test_bad_input.py and
bench/bad_input_table.py, so that the documented table is exactly what the tests check.

Each case gets a fresh workspace (the current directory while it runs) holding small synthetic
house-prices files in `data/`, edits them, and returns the `comp` arguments to run. Paths in the
arguments are relative, so messages read `data/train.csv` wherever the workspace lives.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

COMPETITION = "house-prices"
N_TRAIN, N_TEST, DATA_SEED = 120, 60, 3
FAST = [
    "--device",
    "cpu",
    "--set",
    "mlp.epochs=3",
    "--set",
    "mlp.hidden=16",
    "--set",
    "run.seeds=1",
]
"""Settings for a training run of a second or two; folds come from `--folds` (see `train_args`)."""


def train_args(*extra: str, folds: str = "2") -> list[str]:
    return ["train", COMPETITION, "--data-dir", "data", "--folds", folds, *FAST, *extra]


def data_info_args() -> list[str]:
    return ["data", "info", COMPETITION, "--data-dir", "data"]


def predict_args(run: str = "latest") -> list[str]:
    return ["predict", COMPETITION, "--run", run, "--data-dir", "data"]


# ---------------------------------------------------------------- file edits


def edit_frame(ws: Path, file: str, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    """Rewrite data/<file> after `change`, every cell kept as the text it was."""
    path = ws / "data" / file
    change(pl.read_csv(path, infer_schema=False)).write_csv(path)


def set_cells(column: str, rows: list[int], value: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """Put `value` into `column` at 0-based data rows (data row i is file row i + 2)."""

    def change(frame: pl.DataFrame) -> pl.DataFrame:
        hit = pl.int_range(pl.len()).is_in(rows)
        return frame.with_columns(pl.when(hit).then(pl.lit(value)).otherwise(pl.col(column)).alias(column))

    return change


def edit_bytes(ws: Path, file: str, change: Callable[[bytes], bytes]) -> None:
    path = ws / "data" / file
    path.write_bytes(change(path.read_bytes()))


def _latin1(ws: Path) -> None:
    """What a spreadsheet's "CSV (Windows)" export does to a file with one accented value."""
    edit_frame(ws, "train.csv", set_cells("Neighborhood", [3], "Gilbért"))
    edit_bytes(ws, "train.csv", lambda b: b.decode("utf-8").encode("latin-1"))


def _semicolons(ws: Path) -> None:
    path = ws / "data" / "train.csv"
    pl.read_csv(path, infer_schema=False).write_csv(path, separator=";")


def _cut_short(raw: bytes) -> bytes:
    """A download that stopped in the middle of the last row."""
    body = raw.rstrip(b"\n")
    return body[: body.rfind(b"\n") + 40]


def _rename_header(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        header, rest = raw.split(b"\n", 1)
        return header.replace(old, new, 1) + b"\n" + rest

    return change


def _header_only(raw: bytes) -> bytes:
    return raw.split(b"\n", 1)[0] + b"\n"


# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    """The bad input, as the table names it."""
    prepare: Callable[[Path], list[str]]
    """Edits the workspace's files and returns the `comp` arguments."""
    expect: tuple[str, ...]
    """Fragments the output must contain: the file, column, rows or value at fault."""
    exit_code: int = 2
    needs_bundle: bool = False
    """Runs `comp predict`, so the workspace gets a trained bundle first."""


def _train_after(edit: Callable[[Path], None], *extra: str, folds: str = "2") -> Callable[[Path], list[str]]:
    def prepare(ws: Path) -> list[str]:
        edit(ws)
        return train_args(*extra, folds=folds)

    return prepare


def _nothing(ws: Path) -> None:
    del ws


def _bad_toml(ws: Path) -> list[str]:
    (ws / "bad.toml").write_text("[mlp\nhidden = 64\n")
    return train_args("--config", "bad.toml")


def _unparsable(ws: Path) -> list[str]:
    edit_frame(ws, "train.csv", set_cells("LotArea", [3, 8], "about 9000"))
    edit_frame(ws, "test.csv", set_cells("LotArea", [0], "n/a?"))
    return data_info_args()


def _predict_with(edit: Callable[[Path], None], run: str = "latest") -> Callable[[Path], list[str]]:
    def prepare(ws: Path) -> list[str]:
        edit(ws)
        return predict_args(run)

    return prepare


class Payload:
    """Unpickling this creates `marker`: proof that a loader executed a file's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


PWNED = "pwned"
"""The marker file (in the workspace) that a tampered bundle would create if it were unpickled."""


def _plant_pickle(ws: Path) -> None:
    """Replace every saved weights file with a torch.save'd pickle that would create a marker."""
    import torch

    for weights in (ws / "models").rglob("*.safetensors"):
        torch.save(Payload(ws.resolve() / PWNED), weights)


def _with_notes(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit("call agent").alias("Notes"))


def _notes_everywhere(ws: Path) -> None:
    for file in ("train.csv", "test.csv"):
        edit_frame(ws, file, _with_notes)


def _target_in_test(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit("100000").alias("SalePrice"))


def _pipes(ws: Path) -> None:
    path = ws / "data" / "train.csv"
    pl.read_csv(path, infer_schema=False).write_csv(path, separator="|")


def _pandas_saved(file: str) -> Callable[[Path], None]:
    """pd.read_csv + to_csv with pandas' defaults: "NA" levels and MasVnrType's "None" become empty cells."""

    def edit(ws: Path) -> None:
        import pandas as pd

        path = ws / "data" / file
        pd.read_csv(path).to_csv(path, index=False)

    return edit


def _spreadsheet_rewrites(ws: Path) -> None:
    """A UTF-8 BOM, header names with other case and spaces, padded values, "8,450" and "2.08500E+05"."""

    def change(frame: pl.DataFrame) -> pl.DataFrame:
        area = pl.col("LotArea").cast(pl.Int64)
        return frame.with_columns(
            pl.when(area >= 1000)
            .then((area // 1000).cast(pl.Utf8) + "," + (area % 1000).cast(pl.Utf8).str.zfill(3))
            .otherwise(pl.col("LotArea"))
            .alias("LotArea"),
            (pl.lit(" ") + pl.col("Street") + pl.lit(" ")).alias("Street"),
            pl.col("SalePrice").cast(pl.Float64).map_elements(lambda v: f"{v:.5E}", return_dtype=pl.Utf8),
        ).rename({"YearBuilt": "Year Built", "GrLivArea": "grlivarea"})

    edit_frame(ws, "train.csv", change)
    edit_bytes(ws, "train.csv", lambda b: b"\xef\xbb\xbf" + b)


def _only_kaggle_zip(ws: Path) -> None:
    import zipfile

    data = ws / "data"
    with zipfile.ZipFile(data / "house-prices-advanced-regression-techniques.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("train.csv", "test.csv", "sample_submission.csv"):
            zf.write(data / name, name)
            (data / name).unlink()


def _gzipped(names: tuple[str, ...], suffix: str) -> Callable[[Path], None]:
    def edit(ws: Path) -> None:
        import gzip

        for name in names:
            path = ws / "data" / name
            packed = gzip.compress(path.read_bytes())
            path.unlink()
            path.with_name(name + suffix).write_bytes(packed)

    return edit


def _damaged_gzip(ws: Path) -> None:
    import gzip

    edit_bytes(ws, "train.csv", lambda b: gzip.compress(b)[:400])


def _only_other_files(ws: Path) -> None:
    for name in ("train.csv", "test.csv"):
        (ws / "data" / name).unlink()
    (ws / "data" / "train.xlsx").write_bytes(b"PK")


def _california(
    edit: Callable[[pl.DataFrame], pl.DataFrame], command: list[str], extra: tuple[str, ...] = ()
) -> Callable[[Path], list[str]]:
    """Small synthetic California files in data/, both edited; `comp <command> california-house-prices ...`."""

    def prepare(ws: Path) -> list[str]:
        from competition.synthetic import california

        shutil.rmtree(ws / "data")
        california.write(ws / "data", 150, 40, seed=DATA_SEED)
        edit_frame(ws, "test.csv", edit)
        edit_frame(ws, "train.csv", edit)
        return [*command, "california-house-prices", "--data-dir", "data", *extra]

    return prepare


def _excel_dates(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates as Excel's US locale saves them: M/D/YYYY without leading zeros."""
    return frame.with_columns(
        pl.col(c).str.strptime(pl.Date, "%Y-%m-%d").dt.strftime("%-m/%-d/%Y") for c in ("Listed On", "Last Sold On")
    )


def _bad_dates(frame: pl.DataFrame) -> pl.DataFrame:
    if "Sold Price" in frame.columns:
        return frame
    return set_cells("Listed On", [1, 4], "31/31/2020")(frame)


def _info_after(edit: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def prepare(ws: Path) -> list[str]:
        edit(ws)
        return data_info_args()

    return prepare


CASES: list[Case] = [
    Case(
        "missing_file",
        "train.csv missing",
        _train_after(lambda ws: (ws / "data" / "train.csv").unlink()),
        ("data/train.csv", "not found", "comp data download"),
    ),
    Case(
        "empty_file",
        "train.csv empty (0 bytes)",
        _train_after(lambda ws: edit_bytes(ws, "train.csv", lambda b: b"")),
        ("data/train.csv", "empty (0 bytes)"),
    ),
    Case(
        "header_only",
        "train.csv with a header and no rows",
        _train_after(lambda ws: edit_bytes(ws, "train.csv", _header_only)),
        ("data/train.csv", "no data rows"),
    ),
    Case(
        "missing_column",
        "required column missing (LotArea dropped)",
        _train_after(lambda ws: edit_frame(ws, "train.csv", lambda f: f.drop("LotArea"))),
        ("data/train.csv", "missing required column", "LotArea"),
    ),
    Case(
        "renamed_column",
        "required column renamed (LotArea → lot_area)",
        _train_after(lambda ws: edit_frame(ws, "train.csv", lambda f: f.rename({"LotArea": "lot_area"}))),
        ("data/train.csv", "LotArea", "'lot_area'"),
    ),
    Case(
        "duplicate_header",
        "a column named twice in the header",
        _train_after(lambda ws: edit_bytes(ws, "train.csv", _rename_header(b"LotArea", b"LotFrontage"))),
        ("data/train.csv", "LotFrontage", "more than once"),
    ),
    Case(
        "extra_columns",
        "extra column in train.csv and test.csv",
        _train_after(_notes_everywhere),
        ("Ignoring extra column", "train.csv:Notes", "test.csv:Notes", "submission:"),
        exit_code=0,
    ),
    Case(
        "semicolons",
        "`;` as the delimiter (read, with a warning)",
        _train_after(_semicolons),
        ("data/train.csv", "separated by semicolons", "submission:"),
        exit_code=0,
    ),
    Case(
        "latin1",
        "latin-1 bytes (not UTF-8)",
        _train_after(_latin1),
        ("data/train.csv", "not UTF-8", "line 5", "0xe9"),
    ),
    Case(
        "truncated_file",
        "last row cut short (interrupted download)",
        _train_after(lambda ws: edit_bytes(ws, "train.csv", _cut_short)),
        ("data/train.csv", f"row {N_TRAIN + 1} has", "81 fields"),
    ),
    Case(
        "unparsable_feature",
        "text in a numeric feature column (LotArea)",
        _unparsable,
        ("'LotArea'", "did not parse", "rows 5, 10", "'about 9000'", "'n/a?'", "LotArea: 3"),
        exit_code=0,
    ),
    Case(
        "target_text",
        "non-numeric target",
        _train_after(lambda ws: edit_frame(ws, "train.csv", set_cells("SalePrice", [4], "cheap"))),
        ("data/train.csv", "'SalePrice'", "row 6", "'cheap'"),
    ),
    Case(
        "target_missing",
        "missing target value",
        _train_after(lambda ws: edit_frame(ws, "train.csv", set_cells("SalePrice", [4, 9], "NA"))),
        ("data/train.csv", "'SalePrice'", "rows 6, 11", "missing"),
    ),
    Case(
        "target_zero",
        "zero target value",
        _train_after(lambda ws: edit_frame(ws, "train.csv", set_cells("SalePrice", [4], "0"))),
        ("data/train.csv", "'SalePrice'", "positive", "row 6", "0.0"),
    ),
    Case(
        "target_negative",
        "negative target value",
        _train_after(lambda ws: edit_frame(ws, "train.csv", set_cells("SalePrice", [4], "-125000"))),
        ("data/train.csv", "'SalePrice'", "positive", "row 6", "-125000.0"),
    ),
    Case(
        "target_infinite",
        "infinite target value",
        _train_after(lambda ws: edit_frame(ws, "train.csv", set_cells("SalePrice", [4], "inf"))),
        ("data/train.csv", "'SalePrice'", "finite", "row 6", "'inf'"),
    ),
    Case(
        "duplicate_ids",
        "duplicate Ids",
        _train_after(lambda ws: edit_frame(ws, "train.csv", set_cells("Id", [4], "1"))),
        ("data/train.csv", "duplicate Id", "[1]", "rows 2, 6"),
    ),
    Case(
        "fractional_id",
        "an Id that is not a whole number",
        _train_after(lambda ws: edit_frame(ws, "train.csv", set_cells("Id", [4], "5.5"))),
        ("data/train.csv", "'Id'", "whole numbers", "row 6", "5.5"),
    ),
    Case(
        "overlapping_ids",
        "test Ids that are also train Ids",
        _train_after(lambda ws: edit_frame(ws, "test.csv", set_cells("Id", [0], "7"))),
        ("data/test.csv", "train.csv", "[7]", "must not overlap"),
    ),
    Case(
        "test_has_target",
        "test.csv containing the target column",
        _train_after(lambda ws: edit_frame(ws, "test.csv", _target_in_test)),
        ("data/test.csv", "target column 'SalePrice'"),
    ),
    Case(
        "unknown_competition",
        "unknown competition name",
        lambda ws: ["train", "house-prizes", "--data-dir", "data"],
        ("'house-prizes'", "house-prices"),
    ),
    Case(
        "unknown_set_key",
        "unknown `--set` key",
        _train_after(_nothing, "--set", "mlp.hiden=64"),
        ("'mlp.hiden'", "mlp.hidden", "comp config"),
    ),
    Case(
        "set_wrong_type",
        "`--set` value of the wrong type",
        _train_after(_nothing, "--set", "mlp.hidden=wide"),
        ("mlp.hidden", "whole number", "'wide'"),
    ),
    Case(
        "malformed_toml",
        "malformed TOML `--config`",
        _bad_toml,
        ("bad.toml", "not valid TOML", "line 1"),
    ),
    Case(
        "folds_one",
        "`--folds 1`",
        _train_after(_nothing, folds="1"),
        ("--folds", "at least 2", "got 1", "--split holdout"),
    ),
    Case(
        "folds_too_many",
        "more folds than rows allow (`--folds 100`, 120 rows)",
        _train_after(_nothing, folds="100"),
        ("--folds 100", f"{N_TRAIN} training rows", f"at most {N_TRAIN // 2}"),
    ),
    Case(
        "bad_tracking_uri",
        "unsupported `--tracking-uri`",
        _train_after(_nothing, "--tracking-uri", "bogus://mlflow"),
        ("MLflow tracking failed", "bogus://mlflow"),
    ),
    Case(
        "synth_zero_rows",
        "`comp data synth --rows 0`",
        lambda ws: ["data", "synth", COMPETITION, "--out", "synthetic", "--rows", "0"],
        ("synthetic", "n_train >= 1", "got 0"),
    ),
    Case(
        "unknown_run",
        "`comp predict --run` with an unknown run id",
        _predict_with(_nothing, run="0123abcd"),
        ("'0123abcd'", "Unknown run id", "comp runs"),
        needs_bundle=True,
    ),
    Case(
        "predict_extra_column",
        "`comp predict` on a test.csv with an extra column",
        _predict_with(lambda ws: edit_frame(ws, "test.csv", _with_notes)),
        ("data/test.csv", "Notes", "not trained with"),
        needs_bundle=True,
    ),
    Case(
        "tampered_bundle",
        "`comp predict` with the bundle's weights replaced by a pickle",
        _predict_with(_plant_pickle),
        ("bundle of run", "could not be loaded", "damaged or was not written by comp"),
        needs_bundle=True,
    ),
    Case(
        "predict_missing_column",
        "`comp predict` on a test.csv without a column",
        _predict_with(lambda ws: edit_frame(ws, "test.csv", lambda f: f.drop("GrLivArea"))),
        ("data/test.csv", "missing required column", "GrLivArea"),
        needs_bundle=True,
    ),
    Case(
        "pipes",
        "`|` as the delimiter",
        _train_after(_pipes),
        ("data/train.csv", "pipes", "comma-separated"),
    ),
    Case(
        "pandas_saved_test",
        "test.csv saved by pandas (\"NA\" levels and \"None\" as empty cells; same predictions)",
        _predict_with(_pandas_saved("test.csv")),
        ("submission:",),
        exit_code=0,
        needs_bundle=True,
    ),
    Case(
        "spreadsheet_rewrites",
        "train.csv re-saved by a spreadsheet: BOM, header case and spaces, padding, \"8,450\", \"2.08500E+05\"",
        _train_after(_spreadsheet_rewrites),
        ("data/train.csv", "byte-order mark", "'Year Built' as 'YearBuilt'", "'grlivarea' as 'GrLivArea'",
         "padding spaces removed", "thousands separators removed", "exponent notation read", "submission:"),
        exit_code=0,
    ),
    Case(
        "unknown_level",
        "a quality level that is not on its scale (KitchenQual \"Excellent\")",
        _predict_with(lambda ws: edit_frame(ws, "test.csv", set_cells("KitchenQual", [2], "Excellent"))),
        ("data/test.csv", "'KitchenQual'", "row 4", "'Excellent'", "submission:"),
        exit_code=0,
        needs_bundle=True,
    ),
    Case(
        "impossible_values",
        "impossible values (a garage built in 2207, a negative porch area)",
        _info_after(lambda ws: (edit_frame(ws, "test.csv", set_cells("GarageYrBlt", [0], "2207")),
                                edit_frame(ws, "train.csv", set_cells("OpenPorchSF", [5], "-40")))),
        ("impossible or contradictory values turned into missing, with a flag (train+test): 2 (GarageYrBlt 1, "
         "OpenPorchSF 1)",),
        exit_code=0,
    ),
    Case(
        "kaggle_zip",
        "only the Kaggle zip in the folder",
        _train_after(_only_kaggle_zip),
        ("house-prices-advanced-regression-techniques.zip", "submission:"),
        exit_code=0,
    ),
    Case(
        "csv_gz",
        "train.csv.gz and test.csv.gz instead of CSVs",
        _train_after(_gzipped(("train.csv", "test.csv"), ".gz")),
        ("data/train.csv.gz", "submission:"),
        exit_code=0,
    ),
    Case(
        "gzip_named_csv",
        "a gzip file named train.csv",
        _train_after(_gzipped(("train.csv",), "")),
        ("data/train.csv is gzip-compressed", "submission:"),
        exit_code=0,
    ),
    Case(
        "damaged_gzip",
        "a gzip file cut short",
        _train_after(_damaged_gzip),
        ("data/train.csv is gzip-compressed but could not be decompressed",),
    ),
    Case(
        "no_competition_files",
        "a folder without the competition's files",
        _train_after(_only_other_files),
        ("data/train.csv", "not found", "holds: sample_submission.csv, train.xlsx"),
    ),
    Case(
        "excel_dates",
        "California dates saved by Excel (M/D/YYYY)",
        _california(_excel_dates, ["data", "info"]),
        ("data/train.csv", "dates read as M/D/YYYY", "Listed On",
         "unparsable values turned into missing (train+test): 0"),
        exit_code=0,
    ),
    Case(
        "bad_dates",
        "California test dates that do not parse",
        _california(_bad_dates, ["train"], ("--folds", "2", *FAST)),
        ("data/test.csv", "'Listed On'", "rows 3, 6", "'31/31/2020'", "submission:"),
        exit_code=0,
    ),
]


# ---------------------------------------------------------------- running


@dataclass
class Outcome:
    exit_code: int
    output: str
    """stdout and stderr as the user sees them, then comp's Python warnings as `UserWarning: ...`
    lines (a terminal shows those on stderr, after the source location; pytest would swallow them)."""
    exception: BaseException | None
    new_files: list[str] = field(default_factory=list)
    """Files the command created in the workspace (tracking database aside), relative paths."""
    args: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """The one line a table shows: the error, or the warnings and the result of a success."""
        lines = [ln.strip() for ln in self.output.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("Error:")]
        if errors:
            return errors[0]
        shown = [ln for ln in lines if ln.startswith(("Warning:", "UserWarning:", "unparsable", "impossible"))]
        if any(f.startswith("submissions/") for f in self.new_files):
            bundle = any(f.startswith("models/") for f in self.new_files)
            shown.append("(submission and bundle written)" if bundle else "(submission written)")
        return " / ".join(shown)


@dataclass
class Kit:
    """What every case's workspace starts from: data, an initialized tracking store, a bundle.

    Creating MLflow's sqlite tables takes seconds; copying a store that has them takes none."""

    root: Path
    data: Path
    mlflow_db: Path
    _models: Path | None = None

    @classmethod
    def create(cls, root: Path) -> Kit:
        from mlflow.tracking import MlflowClient

        from competition.synthetic import house_prices

        data = root / "data"
        house_prices.write(data, N_TRAIN, N_TEST, seed=DATA_SEED)
        store = root / "store"
        store.mkdir()
        # Building the tables is fsync-bound: do it in memory-backed /dev/shm where there is one.
        shm = Path("/dev/shm")
        scratch = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            MlflowClient(tracking_uri=f"sqlite:///{Path(tmp) / 'mlflow.db'}").search_experiments()
            shutil.copy2(Path(tmp) / "mlflow.db", store / "mlflow.db")
        return cls(root=root, data=data, mlflow_db=store / "mlflow.db")

    def workspace(self, path: Path, with_bundle: bool = False) -> Path:
        """A fresh workspace at `path`: data/, mlflow_runs/mlflow.db, and models/ if asked."""
        path.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.data, path / "data")
        (path / "mlflow_runs").mkdir()
        shutil.copy2(self.mlflow_db, path / "mlflow_runs" / "mlflow.db")
        if with_bundle:
            shutil.copytree(self.models(), path / "models")
        return path

    def models(self) -> Path:
        """models/ of a workspace where one clean run was trained (once per kit)."""
        if self._models is None:
            ws = self.workspace(self.root / "trained")
            outcome = invoke(train_args(), ws)
            if outcome.exit_code != 0:
                raise RuntimeError(f"training the shared bundle failed:\n{outcome.output}")
            self._models = ws / "models"
        return self._models


_KITS: dict[Path, Kit] = {}


def shared_kit(base: Path) -> Kit:
    """One kit per test session (keyed by pytest's session temp folder)."""
    if base not in _KITS:
        root = base / "bad_input_kit"
        root.mkdir()
        _KITS[base] = Kit.create(root)
    return _KITS[base]


def _files(ws: Path) -> set[str]:
    return {
        p.relative_to(ws).as_posix()
        for p in ws.rglob("*")
        if p.is_file() and not p.relative_to(ws).as_posix().startswith("mlflow_runs/mlflow.db")
    }


def invoke(args: list[str], ws: Path, env: dict[str, str | None] | None = None) -> Outcome:
    """Run `comp args` in workspace `ws` as a user would, recording what it created."""
    from competition.cli import app

    before = _files(ws)
    with contextlib.chdir(ws), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        result = CliRunner().invoke(app, args, env={"MLFLOW_TRACKING_URI": None, **(env or {})})
    ours = [w for w in caught if "competition" in Path(w.filename).parts]
    output = result.output + "".join(f"{w.category.__name__}: {w.message}\n" for w in ours)
    exception = None if isinstance(result.exception, SystemExit) else result.exception
    return Outcome(result.exit_code, output, exception, sorted(_files(ws) - before), list(args))


def run_case(case: Case, kit: Kit, ws_path: Path) -> Outcome:
    ws = kit.workspace(ws_path, with_bundle=case.needs_bundle)
    with contextlib.chdir(ws):
        args = case.prepare(ws)
    return invoke(args, ws)
