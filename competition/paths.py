"""Workspace folders, all relative to the current working directory (the workspace).

So the tool works the same from a checkout, an installed package or any project folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def current(cls) -> Workspace:
        return cls(Path.cwd().resolve())

    def data_dir(self, competition: str) -> Path:
        return self.root / "data" / competition

    def features_dir(self, competition: str) -> Path:
        return self.root / "features" / competition

    def models_dir(self, competition: str) -> Path:
        return self.root / "models" / competition

    def submissions_dir(self, competition: str) -> Path:
        return self.root / "submissions" / competition

    def reports_dir(self, competition: str) -> Path:
        return self.root / "reports" / competition

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow_runs"

    @property
    def default_tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"
