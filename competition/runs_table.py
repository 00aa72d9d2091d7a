"""`comp runs`: the competition's runs from MLflow, best OOF score first.

A RUNNING run is shown as live, dead, stale or unknown (`competition.liveness.classify`): by
the run lock in its checkpoint folder on this machine, else by its heartbeat on the tracking
server. Only reads: it works in a read-only workspace."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from competition.config import split_families
from competition.errors import CompError
from competition.liveness import classify, lock_state
from competition.paths import Workspace
from competition.runids import PARTIAL
from competition.tracking import client, resolve_tracking_uri

RUN_KEY_PARAMS = ("run.split", "run.folds", "run.seeds")
FAMILY_KEY_PARAMS = {
    "mlp": ("mlp.hidden", "mlp.depth", "mlp.dropout", "mlp.weight_decay"),
    "lightgbm": ("lightgbm.num_leaves", "lightgbm.learning_rate"),
    "ridge": ("linear.ridge_alpha",),
    "lasso": ("linear.lasso_alpha",),
    "elasticnet": ("linear.elasticnet_alpha", "linear.l1_ratio"),
}
"""The settings shown for a run in `comp runs`: the split, then those of each family it trained
(a lasso run shows its alpha, not the MLP's width it never used)."""


def key_params(model: str | None) -> tuple[str, ...]:
    """Setting names to show for a run whose `run.model` is `model` (e.g. "mlp,lightgbm,lasso")."""
    return RUN_KEY_PARAMS + tuple(k for f in split_families(model or "") for k in FAMILY_KEY_PARAMS.get(f, ()))


def _short(value: str) -> str:
    """A searched value as logged, shortened to 4 significant digits when it is a fraction."""
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() else f"{number:.4g}"


def list_runs(competition: str, tracking_uri: str | None, workspace: Workspace, limit: int) -> list[dict[str, Any]]:
    uri = resolve_tracking_uri(tracking_uri, workspace)
    mlflow_client = client(uri)
    exp = mlflow_client.get_experiment_by_name(competition)
    if exp is None:
        raise CompError(f"No runs yet for {competition} in {uri}: run `comp train {competition}` first.")
    found = [r for r in mlflow_client.search_runs([exp.experiment_id], max_results=max(limit * 20, 500))
             if r.data.tags.get("comp_kind") in ("train", "blend", "tune")]
    rows = []
    for r in found:
        m, p, t = r.data.metrics, r.data.params, r.data.tags
        duration = ((r.info.end_time - r.info.start_time) / 1000) if r.info.end_time else None
        lock = lock_state(workspace.models_dir(competition) / PARTIAL / r.info.run_id)
        alive = classify(r.info.status, t, lock)
        rows.append({
            "run_id": r.info.run_id,
            "name": r.info.run_name,
            "kind": t.get("comp_kind"),
            "status": r.info.status,
            "liveness": alive.state or None,
            "liveness_detail": alive.detail or None,
            "model": t.get("model", p.get("run.model")),
            "members": t.get("members", ""),
            "split": t.get("split"),
            "params": {k: p[k] for k in key_params(p.get("run.model")) if k in p},
            "cv_mean": m.get("cv_mean_log_rmse"),
            "cv_std": m.get("cv_std_log_rmse"),
            "oof": m.get("oof_log_rmse"),
            "duration_s": duration,
            "start_time": r.info.start_time,
        })
        if t.get("comp_kind") == "tune":  # a `comp tune` study: its best trial and the run that kept it
            rows[-1].update({
                "oof": m.get("best_oof_log_rmse"),
                "params": {k.removeprefix("best."): _short(v) for k, v in t.items() if k.startswith("best.")},
                "study": {
                    "name": t.get("study"),
                    "best_trial": t.get("best_trial"),
                    "best_run_id": t.get("best_run_id"),
                    "trials_complete": m.get("n_trials_complete"),
                    "trials_pruned": m.get("n_trials_pruned"),
                    "rescored_best": m.get("rescored_best_log_rmse"),
                    "rescored_default": m.get("rescored_default_log_rmse"),
                },
            })
    rows.sort(key=lambda r: (r["oof"] is None, r["oof"] if r["oof"] is not None else 0.0))
    return rows[:limit]


def render(rows: list[dict[str, Any]], console: Console, competition: str) -> None:
    table = Table(title=f"{competition} runs (best OOF log-RMSE first)")
    for col in ("run id", "name", "model", "status", "split", "key params", "CV mean ± std", "OOF", "duration"):
        table.add_column(col, overflow="fold")
    for r in rows:
        cv = f"{r['cv_mean']:.5f} ± {r['cv_std']:.5f}" if r["cv_mean"] is not None else "-"
        oof = f"{r['oof']:.5f}" if r["oof"] is not None else "-"
        params = " ".join(f"{k.split('.')[-1]}={v}" for k, v in r["params"].items())
        model = r["model"] if r["kind"] != "blend" else f"blend({r['members']})"
        if r["kind"] == "tune":
            st = r["study"]
            model = f"study {st['name']} ({r['model']}): best trial {st['best_trial']}"
            if st["best_run_id"]:
                model += f" -> run {st['best_run_id'][:12]}"
        dur = f"{r['duration_s']:.0f}s" if r["duration_s"] is not None else "-"
        status = f"{r['status']} ({r['liveness']})" if r.get("liveness") else r["status"]
        table.add_row(r["run_id"][:12], r["name"] or "", model or "", status, r["split"] or "", params, cv, oof, dur)
    console.print(table)
