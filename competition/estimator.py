"""The batched MLP ensemble as a scikit-learn regressor: numeric matrix in, predictions out.

`MLPEnsembleRegressor` is the trainer `comp train` uses (`competition.models.mlp.train_members`)
behind scikit-learn's estimator contract (`__init__` stores parameters, `fit` learns and returns
self, learned state ends in `_`), so it works in `Pipeline`, `cross_val_score` and
`GridSearchCV`. The ensemble is folds x seeds members trained at once: member (f, s) trains on
every fold but f with seed s, early-stops on fold f, and `predict` averages all members, as
`comp train` averages its fold models for the submission.

It takes the matrix as given: put a `StandardScaler` (or comp's own feature pipeline) in front
of it, and wrap it in `TransformedTargetRegressor(func=np.log, inverse_func=np.exp)` to fit a
log target such as a price.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

ACTIVATIONS = ("relu", "silu", "gelu", "tanh")


class MLPEnsembleRegressor(RegressorMixin, BaseEstimator):
    """An ensemble of regularized MLPs (folds x seeds members) trained as one batched network.

    Parameters (defaults are `comp`'s `mlp.*` settings, see `competition.models.mlp.MLPConfig`):
        hidden, depth: width and number of hidden layers.
        dropout: dropout rate of the hidden layers, in [0, 1).
        activation: "silu" | "relu" | "gelu" | "tanh".
        lr: peak AdamW learning rate (cosine schedule down to lr * min_lr_ratio over `epochs`,
            after `warmup_epochs` of linear warmup).
        weight_decay: AdamW's decoupled weight decay (weights, not biases).
        l1: L1 penalty on the first layer's weights.
        batch_size, epochs, patience: mini-batch rows, most epochs, epochs without a better
            validation RMSE before a member stops (its best epoch's weights are kept).
        grad_clip: per-member gradient-norm clipping.
        precision: "auto" | "fp32" | "bf16" (matmuls; weights and optimizer state stay fp32).
        folds: members per seed; member f validates on the f-th of `folds` shuffled folds.
            1: no validation, every member trains `epochs` epochs on all rows.
        seeds: members per fold (different initializations, batch orders and dropout).
        random_state: seed of the folds and members (int, RandomState or None).
        device: "cpu" | "cuda" | "auto".

    Attributes after fit: `n_features_in_`, `n_members_`, `best_epoch_` (per member),
    `history_` (per member: "train" and "valid" RMSE per epoch, in units of y).
    Raises ValueError for out-of-range parameters and for fewer rows than `folds`.
    """

    def __init__(
        self,
        hidden: int = 256,
        depth: int = 2,
        dropout: float = 0.3,
        activation: str = "silu",
        lr: float = 5e-4,
        weight_decay: float = 1.0,
        l1: float = 0.0,
        batch_size: int = 128,
        epochs: int = 300,
        patience: int = 40,
        min_lr_ratio: float = 0.05,
        warmup_epochs: int = 5,
        grad_clip: float = 1.0,
        precision: str = "auto",
        folds: int = 5,
        seeds: int = 1,
        random_state: Any = 0,
        device: str = "cpu",
    ) -> None:
        self.hidden = hidden
        self.depth = depth
        self.dropout = dropout
        self.activation = activation
        self.lr = lr
        self.weight_decay = weight_decay
        self.l1 = l1
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.min_lr_ratio = min_lr_ratio
        self.warmup_epochs = warmup_epochs
        self.grad_clip = grad_clip
        self.precision = precision
        self.folds = folds
        self.seeds = seeds
        self.random_state = random_state
        self.device = device

    def _check_params(self) -> None:
        at_least_one = ("hidden", "depth", "batch_size", "epochs", "patience", "folds", "seeds")
        for name in at_least_one:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1; got {value!r}.")
        for name in ("lr", "weight_decay", "l1", "grad_clip", "min_lr_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int | float | np.number) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}.")
        if not isinstance(self.warmup_epochs, int | np.integer) or self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be a whole number >= 0; got {self.warmup_epochs!r}.")
        if not isinstance(self.dropout, int | float | np.number) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}.")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16; got {self.precision!r}.")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda; got {self.device!r}.")

    def fit(self, X: Any, y: Any) -> MLPEnsembleRegressor:
        """Train folds x seeds members on X (n_samples, n_features) and y (n_samples,); returns self."""
        import torch

        from competition.devices import resolve_device
        from competition.models.mlp import Member, MLPConfig, train_members

        self._check_params()
        X, y = validate_data(self, X, y, y_numeric=True, dtype=[np.float64, np.float32])
        n = X.shape[0]
        if self.folds > 1 and n < self.folds:
            raise ValueError(
                f"{type(self).__name__} with folds={self.folds} needs at least {self.folds} samples for its "
                f"validation folds; got {n} sample(s). Use folds=1 to train without validation."
            )
        cfg = MLPConfig(
            hidden=int(self.hidden), depth=int(self.depth), dropout=float(self.dropout), activation=self.activation,
            lr=float(self.lr), weight_decay=float(self.weight_decay), l1=float(self.l1),
            batch_size=int(self.batch_size), epochs=int(self.epochs), patience=int(self.patience),
            min_lr_ratio=float(self.min_lr_ratio), warmup_epochs=int(self.warmup_epochs),
            grad_clip=float(self.grad_clip), precision=self.precision,
        )
        base = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        if self.folds > 1:
            parts = list(KFold(int(self.folds), shuffle=True, random_state=base % (2**32 - 1)).split(X))
        else:
            parts = [(np.arange(n), np.zeros(0, dtype=np.int64))]
        members = [
            Member(fold=0, seed=base + 1000 * s + f, train_idx=train, valid_idx=valid,
                   epochs=None if len(valid) else int(self.epochs))
            for s in range(int(self.seeds))
            for f, (train, valid) in enumerate(parts)
        ]
        device = torch.device(resolve_device(self.device, 0))
        x = torch.tensor(np.asarray(X, dtype=np.float32), device=device).unsqueeze(0)
        y_t = torch.tensor(np.asarray(y, dtype=np.float32), device=device)
        trained = train_members(x, y_t, members, cfg)
        self.weights_ = [w.detach().cpu() for w in trained.weights]
        self.y_center_ = trained.y_center.detach().cpu()
        self.y_scale_ = trained.y_scale.detach().cpu()
        self.best_epoch_ = np.asarray(trained.best_epoch)
        self.history_ = trained.history
        self.n_members_ = len(members)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Mean prediction of all members for X (n_samples, n_features): shape (n_samples,)."""
        import torch

        from competition.models.mlp import predict_members

        check_is_fitted(self, "weights_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        x = torch.tensor(np.asarray(X, dtype=np.float32))
        pred = predict_members(self.weights_, self.y_center_, self.y_scale_, x, self.activation)
        return pred.double().mean(dim=0).numpy()
