"""Random labels: the default model trained on targets shuffled within each fold's training part.

Nothing real is left to learn, so the training error only falls by memorizing rows. The features
are built as the pipeline builds them when these shuffled targets are all it is given (target
encodings of the shuffled training targets), so a leak that carries targets into the features (an
encoder that sees the validation rows' targets, say) shows: the network learns to read the shuffled
label back from the feature, and on validation rows the feature holds their TRUE target.

A network trained on noise still predicts a random function of the features, and the true targets
depend on the features, so one shuffle's validation error lands a few percent above or below the
constant prediction by chance (240-row synthetic House Prices, fixture seeds 0-3, 20 shuffles each:
last-epoch validation error / constant from 0.90 to 1.14, standard deviation 0.036-0.055 per seed, mean
1.02-1.05; the correlation of predictions with the true targets averaged -0.06 to +0.05 with standard
deviation 0.14-0.22). The leak test therefore:

- reads the validation error at the last epoch (training runs a fixed number of epochs with no early
  stopping; taking the best epoch would select on the validation rows);
- compares it with a null made from the same predictions: the expected error when each fold's
  validation targets are matched to its predictions at random (exact, see `_null_sse`), so the spread
  of the predictions costs both sides the same and only their covariance with the true targets counts;
- repeats the whole procedure over `diagnose.random_label_draws` independent shuffles (and network
  seeds) and applies a one-sided one-sample t-test to the per-draw gains (true matching vs random
  matching, relative to the constant level). A leak is called when the gain is beyond noise
  (p < alpha / 2: two models are tested, Bonferroni) and larger than LEAK_MARGIN.

A variant without weight decay and dropout shows how much the network could memorize if the
regularization did not hold it back; its curves (and the default's) are plotted for the first draw.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from competition.diagnose import figures
from competition.diagnose.common import Section, f4, pct, table
from competition.diagnose.context import DiagnoseContext, Variant, train_eval_rows
from competition.models.mlp import Member, predict_members, train_members
from competition.training import build_fold_matrices

LEAK_MARGIN = 0.02
"""Smallest gain (share of the constant level) of true over random matching that counts as a leak, when
it is also beyond noise."""

MODELS = ("default", "unregularized")


def plan(ctx: DiagnoseContext) -> tuple[list[Variant], list[Variant]]:
    return [], []


def block_features(ctx: DiagnoseContext, fold: int, y_block: np.ndarray) -> torch.Tensor:
    """(rows, features) matrix of fold `fold` as the feature pipeline builds it when the training part's
    targets are `y_block[train rows]` (validation rows are transformed, never fit on).

    The pipeline reads targets only for target encodings (high-cardinality columns, see
    competition/features.py); without them the fold's ordinary matrix is the same and is reused."""
    mats = ctx.matrices()
    if not ctx.spec.features.high_cardinality:
        return mats.x[fold]
    built, _ = build_fold_matrices(ctx.spec, ctx.config, ctx.train_frame, ctx.test_frame, y_block, [mats.folds[fold]])
    return torch.as_tensor(built.train[0], dtype=torch.float32, device=ctx.device)


def _pooled(curves: list[list[float]], sizes: list[int]) -> np.ndarray:
    """Per-epoch RMSE pooled over folds (members run the same number of epochs)."""
    n = min(len(c) for c in curves)
    sq = sum(np.asarray(c[:n]) ** 2 * s for c, s in zip(curves, sizes, strict=True))
    return np.sqrt(sq / sum(sizes))


def _null_sse(y: np.ndarray, pred: np.ndarray, center: float) -> float:
    """Expected sum of squared errors when the targets `y` are matched to the predictions `pred` by a
    uniformly random permutation: n * [mean((y-c)^2) + mean((p-c)^2) - 2 mean(y-c) mean(p-c)].

    (Each target meets each prediction with probability 1/n, so the cross term averages to the product
    of the means.) Any center c gives the same value; the training mean keeps the terms small."""
    dy, dp = y - center, pred - center
    return float(len(y) * (np.mean(dy**2) + np.mean(dp**2) - 2 * dy.mean() * dp.mean()))


def leak_test(gains: np.ndarray, alpha: float) -> tuple[float, bool]:
    """One-sided one-sample t-test that the mean per-draw gain is above zero: (p-value, leak).

    `gains`: per independent draw, (random-matching RMSE - true-matching RMSE) / constant RMSE. Draws
    are independent given the data (own shuffle, own seeds), so the plain t-test applies. Leak: p below
    `alpha` and mean gain above LEAK_MARGIN (a gain that is real but tiny is no leak worth a warning)."""
    mean = float(np.mean(gains))
    if np.std(gains) == 0:
        p = 0.0 if mean > 0 else 1.0
    else:
        p = float(stats.ttest_1samp(gains, 0.0, alternative="greater").pvalue)
    return p, bool(p < alpha and mean > LEAK_MARGIN)


def run(ctx: DiagnoseContext, out: Path) -> Section:
    n = ctx.n_rows
    y = ctx.y_log
    epochs = ctx.settings.random_label_epochs
    draws = ctx.settings.random_label_draws
    rng = np.random.default_rng(ctx.config.run.seed + 17)
    base = ctx.base_members()[:: ctx.settings.seeds]
    # One block of rows per (draw, fold): that fold's own shuffle of its training targets and the
    # features the pipeline builds from them. Every member reads slice 0 of a (1, blocks x rows, D) tensor.
    y_blocks: list[np.ndarray] = []
    x_blocks: list[torch.Tensor] = []
    members: list[Member] = []
    roles: list[tuple[str, int, int]] = []  # (role, draw, position in base)
    for d in range(draws):
        for f, m in enumerate(base):
            b = len(y_blocks)
            yb = y.copy()
            yb[m.train_idx] = rng.permutation(y[m.train_idx])
            y_blocks.append(yb)
            x_blocks.append(block_features(ctx, m.fold, yb))
            tr, va, none = m.train_idx + b * n, m.valid_idx + b * n, np.zeros(0, dtype=np.int64)
            seed = m.seed + 7919 * d
            # No validation rows: exactly `epochs` epochs, the LAST epoch's weights are returned.
            members.append(Member(fold=0, seed=seed, train_idx=tr, valid_idx=none, epochs=epochs))
            roles.append(("default", d, f))
            members.append(
                Member(fold=0, seed=seed, train_idx=tr, valid_idx=none, epochs=epochs, weight_decay=0.0, dropout=0.0)
            )
            roles.append(("unregularized", d, f))
            if d == 0:  # per-epoch curves for the plot and table (descriptive only)
                members.append(Member(fold=0, seed=seed, train_idx=tr, valid_idx=va, epochs=epochs))
                roles.append(("default valid", d, f))
                twin_rows = train_eval_rows(m.train_idx, m.seed) + b * n
                members.append(Member(fold=0, seed=seed, train_idx=tr, valid_idx=twin_rows, epochs=epochs))
                roles.append(("default train", d, f))
                members.append(
                    Member(fold=0, seed=seed, train_idx=tr, valid_idx=va, epochs=epochs, weight_decay=0.0, dropout=0.0)
                )
                roles.append(("unregularized valid", d, f))
    width = max(x.shape[1] for x in x_blocks)
    x_rl = torch.cat([torch.nn.functional.pad(x, (0, width - x.shape[1])) for x in x_blocks]).unsqueeze(0)
    y_rl = torch.as_tensor(np.concatenate(y_blocks), dtype=torch.float32, device=ctx.device)
    cfg = dataclasses.replace(ctx.mlp, patience=epochs + 1)
    trained = train_members(x_rl, y_rl, members, cfg, epochs=epochs)
    ctx.trained_members += len(members)

    # Last-epoch predictions on each fold's validation rows; per draw pooled over folds.
    n_valid = [len(m.valid_idx) for m in base]
    n_train = [len(m.train_idx) for m in base]
    centers = [float(y[m.train_idx].mean()) for m in base]
    const_valid = float(
        np.sqrt(sum(np.sum((y[m.valid_idx] - c) ** 2) for m, c in zip(base, centers, strict=True)) / sum(n_valid))
    )
    const_train = float(
        np.sqrt(sum(np.sum((y[m.train_idx] - c) ** 2) for m, c in zip(base, centers, strict=True)) / sum(n_train))
    )
    sse = {(model, kind): np.zeros(draws) for model in MODELS for kind in ("true", "null")}
    for j, (role, d, f) in enumerate(roles):
        if role not in MODELS:
            continue
        m = base[f]
        rows = torch.as_tensor(m.valid_idx + (d * len(base) + f) * n, device=ctx.device)
        one = slice(j, j + 1)
        w = [t[one] for t in trained.weights]
        pred = predict_members(w, trained.y_center[one], trained.y_scale[one], x_rl[0, rows], cfg.activation)
        p = pred[0].cpu().numpy().astype(np.float64)
        yv = y[m.valid_idx]
        sse[(role, "true")][d] += float(np.sum((yv - p) ** 2))
        sse[(role, "null")][d] += _null_sse(yv, p, centers[f])
    total_valid = sum(n_valid)
    alpha = ctx.settings.alpha / len(MODELS)
    tests: dict[str, dict] = {}
    for model in MODELS:
        end = np.sqrt(sse[(model, "true")] / total_valid)
        null = np.sqrt(sse[(model, "null")] / total_valid)
        gains = (null - end) / const_valid
        p, leak = leak_test(gains, alpha)
        tests[model] = {"end": end, "null": null, "gains": gains, "p": p, "leak": leak}

    def curves(role: str, key: str) -> list[list[float]]:
        return [trained.history[j][key] for j, (r, _, _) in enumerate(roles) if r == role]

    d_valid = _pooled(curves("default valid", "valid"), n_valid)
    d_train = _pooled(curves("default train", "valid"), n_train)
    u_valid = _pooled(curves("unregularized valid", "valid"), n_valid)
    u_train = _pooled(curves("unregularized valid", "train"), n_train)

    def memorized(train_end: float) -> float:
        """Share of the shuffled targets' variance the network fits: 1 - (RMSE / constant RMSE)^2."""
        return 1.0 - (train_end / const_train) ** 2

    numbers = {
        "constant_train": const_train,
        "constant_valid": const_valid,
        "default_train_end": float(d_train[-1]),
        "default_memorized": memorized(float(d_train[-1])),
        "unregularized_train_end": float(u_train[-1]),
        "unregularized_memorized": memorized(float(u_train[-1])),
    }
    for model, t in tests.items():
        numbers[f"{model}_valid_end"] = float(t["end"].mean())
        numbers[f"{model}_valid_null"] = float(t["null"].mean())
        numbers[f"{model}_gain"] = float(t["gains"].mean())
        numbers[f"{model}_gain_sd"] = float(t["gains"].std(ddof=1))
        numbers[f"{model}_gain_p"] = t["p"]
    plot = figures.random_labels(
        out / "random_labels.png",
        f"{ctx.spec.name} · shuffled training targets, {epochs} epochs, no early stopping (draw 1 of {draws})",
        [
            ("default: train (eval mode)", d_train, "C0", "--"),
            ("default: validation", d_valid, "C0", "-"),
            ("no weight decay/dropout: train (mini-batch)", u_train, "C3", "--"),
            ("no weight decay/dropout: validation", u_valid, "C3", "-"),
        ],
        [
            ("constant prediction: validation", const_valid, "black"),
            ("constant prediction: train", const_train, "grey"),
        ],
    )
    leak = any(t["leak"] for t in tests.values())
    dt, ut = tests["default"], tests["unregularized"]
    verdict = (
        f"On shuffled targets the default model's training error fell from {d_train[0]:.4f} to {d_train[-1]:.4f} "
        f"in {epochs} epochs ({pct(numbers['default_memorized'])} of the noise memorized; constant level "
        f"{const_train:.4f}); without weight decay and dropout it fell to {u_train[-1]:.4f} "
        f"({pct(numbers['unregularized_memorized'])}). Over {draws} shuffles its last-epoch validation error "
        f"averaged {dt['end'].mean():.4f} (unregularized {ut['end'].mean():.4f}) against {const_valid:.4f} for "
        f"the training mean; matched to the true validation targets instead of at random, the predictions did "
        f"{pct(numbers['default_gain'])} better (p = {dt['p']:.2g}; unregularized "
        f"{pct(numbers['unregularized_gain'])}, p = {ut['p']:.2g})"
    )
    if leak:
        which = [model for model in MODELS if tests[model]["leak"]]
        subject = "the default and unregularized models predict" if len(which) > 1 else f"the {which[0]} model predicts"
        verdict += (
            f" — {subject} the TRUE validation targets beyond noise (more than "
            f"{pct(LEAK_MARGIN)} of the constant level, one-sided p < {alpha:.3g}), which shuffled labels should "
            "make impossible: look for target information leaking into the features."
        )
    else:
        verdict += ": no gain beyond noise, as it should be (no sign of a leak)."
    rows = [
        [
            label,
            f4(float(train[0])),
            f4(float(train[-1])),
            pct(memorized(float(train[-1]))),
            f"{f4(float(t['end'].mean()))} ± {f4(float(t['end'].std(ddof=1)))}",
            f4(float(t["null"].mean())),
            f"{pct(float(t['gains'].mean()))} ± {pct(float(t['gains'].std(ddof=1)))}",
            f"{t['p']:.3g}",
        ]
        for label, train, t in (("default", d_train, dt), ("no weight decay, no dropout", u_train, ut))
    ]
    body = [
        f"Targets shuffled within each of the {len(base)} folds' training parts, {draws} independent times "
        "(validation rows keep their true targets; the features are built from the shuffled targets, as the "
        f"pipeline would). Constant prediction (training mean): train {const_train:.4f}, validation "
        f"{const_valid:.4f}. Train columns: the first draw (the default's in evaluation mode; the unregularized "
        "one's is the mini-batch training loss, no dropout, so nearly the same). Validation columns, over draws "
        "(mean ± sd): the last epoch's error; 'random matching' is the expected error of the same predictions "
        "with each fold's validation targets matched to them at random; 'gain' is their difference as a share "
        f"of the constant level, and p its one-sided t-test over draws (leak when p < {alpha:.3g} and gain > "
        f"{pct(LEAK_MARGIN)}).",
        "",
        *table(
            [
                "model",
                "train epoch 1",
                "train end",
                "noise memorized",
                "validation end",
                "random matching",
                "gain",
                "p",
            ],
            rows,
        ),
    ]
    data = {
        **numbers,
        "leak": leak,
        "epochs": epochs,
        "draws": draws,
        **{f"{model}_gains": [float(g) for g in t["gains"]] for model, t in tests.items()},
        **{f"{model}_valid_ends": [float(e) for e in t["end"]] for model, t in tests.items()},
        "default_valid_curve": [float(v) for v in d_valid],
        "unregularized_valid_curve": [float(v) for v in u_valid],
    }
    return Section(
        key="randomlabels",
        title="Random labels",
        status="warn" if leak else "ok",
        verdict=verdict,
        body=body,
        plots=[plot],
        metrics=numbers,
        data=data,
    )
