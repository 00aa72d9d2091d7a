"""`comp data info`: what is in the files, including what did not parse."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from competition.data import CompetitionData


def describe(data: CompetitionData, console: Console) -> None:
    """Print the files' shapes, target summary and a per-column table: missing values, values that did not
    parse (load and parser counts, train+test) and impossible values made missing by the parser."""
    spec = data.spec
    console.print(f"[bold]{spec.title}[/] ({spec.name})")
    console.print(f"train: {data.train.height:,} rows x {data.train.width} columns; "
                  f"test: {data.test.height:,} rows x {data.test.width} columns; digest {data.digest[:16]}")
    y = data.train[spec.target_column].to_numpy().astype(np.float64)
    q = np.quantile(y, [0, 0.25, 0.5, 0.75, 1])
    console.print(f"target {spec.target_column}: mean {y.mean():,.0f}, min {q[0]:,.0f}, 25% {q[1]:,.0f}, "
                  f"median {q[2]:,.0f}, 75% {q[3]:,.0f}, max {q[4]:,.0f}; log mean {np.log(y).mean():.4f}, "
                  f"log std {np.log(y).std():.4f}")
    table = Table()
    table.add_column("column", no_wrap=True)
    for header in ("type", "train missing", "test missing", "distinct (train)", "unparsable", "impossible"):
        table.add_column(header)
    prepared = spec.prepare(data.train)
    prepared_test = spec.prepare(data.test)
    parse_issues = _summed(prepared.unparsable, prepared_test.unparsable)
    impossible = _summed(prepared.impossible, prepared_test.impossible)
    for col in data.train.columns:
        kind = spec.raw_columns[col]
        miss_tr = data.train[col].null_count()
        miss_te = data.test[col].null_count() if col in data.test.columns else None
        bad = data.unparsable.get(col, 0) + parse_issues.get(col, 0)
        table.add_row(col, kind, f"{miss_tr:,} ({miss_tr / data.train.height:.1%})",
                      "-" if miss_te is None else f"{miss_te:,} ({miss_te / data.test.height:.1%})",
                      f"{data.train[col].n_unique():,}", f"{bad:,}" if bad else "",
                      f"{impossible[col]:,}" if col in impossible else "")
    console.print(table)
    every = _summed(data.unparsable, parse_issues)
    console.print(f"unparsable values turned into missing (train+test): {sum(every.values()):,}")
    for col, n in sorted(every.items()):
        console.print(f"  {col}: {n:,}")
    shown = ", ".join(f"{col} {n:,}" for col, n in sorted(impossible.items()))
    console.print(f"impossible or contradictory values turned into missing, with a flag (train+test): "
                  f"{sum(impossible.values()):,}" + (f" ({shown})" if shown else ""), soft_wrap=True)
    console.print(f"prepared features: {prepared.frame.width} columns "
                  f"({len(spec.features.numeric)} numeric, {len(spec.features.categorical)} categorical, "
                  f"{len(spec.features.high_cardinality)} high-cardinality, {len(spec.features.multi_label)} list, "
                  f"{len(spec.features.text)} text, {len(spec.features.flags)} flags)")


def _summed(*parts: dict[str, int]) -> dict[str, int]:
    """Counts per column added over several {column: count} dicts."""
    total: dict[str, int] = {}
    for part in parts:
        for col, n in part.items():
            total[col] = total.get(col, 0) + n
    return total
