"""The MLP's settings (`mlp.*`), kept free of torch so that reading and checking a config (the
CLI, `comp config`, `--help`) does not pay for importing it. `competition.models.mlp` re-exports
`MLPConfig`, so `from competition.models.mlp import MLPConfig` keeps working."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ACTIVATIONS = ("relu", "silu", "gelu", "tanh")
"""Names `mlp.activation` accepts (the trainer's table of activations and derivatives has these keys)."""


@dataclass(frozen=True)
class MLPConfig:
    hidden: int = 256
    depth: int = 2
    dropout: float = 0.3
    activation: str = "silu"
    lr: float = 5e-4
    weight_decay: float = 1.0
    """AdamW decoupled weight decay (applied to weights, not biases)."""
    l1: float = 0.0
    """Optional L1 penalty on the first layer's weights (feature selection pressure)."""
    batch_size: int = 128
    epochs: int = 300
    patience: int = 40
    min_lr_ratio: float = 0.05
    """Cosine schedule from lr down to lr * min_lr_ratio over `epochs`; warmup_epochs linear ramp."""
    warmup_epochs: int = 5
    grad_clip: float = 1.0
    """Per-member gradient-norm clipping."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Training matmuls in fp32, or bf16 (inputs, hidden activations and matmuls in bfloat16;
    weights, optimizer state, loss and evaluation stay fp32). "auto": bf16 where the hardware
    multiplies bfloat16 natively (CUDA with bf16, or a CPU with AVX512-BF16/AMX), else fp32."""
