"""`comp data info`: what is in the files, including what did not parse."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from competition.data import CompetitionData


def describe(data: CompetitionData, console: Console) -> None:
    spec = data.spec
    console.print(f"[bold]{spec.title}[/] ({spec.name})")
    console.print(f"train: {data.train.height:,} rows x {data.train.width} columns; "
                  f"test: {data.test.height:,} rows x {data.test.width} columns; digest {data.digest[:16]}")
    y = data.train[spec.target_column].to_numpy().astype(np.float64)
    q = np.quantile(y, [0, 0.25, 0.5, 0.75, 1])
    console.print(f"target {spec.target_column}: mean {y.mean():,.0f}, min {q[0]:,.0f}, 25% {q[1]:,.0f}, "
                  f"median {q[2]:,.0f}, 75% {q[3]:,.0f}, max {q[4]:,.0f}; log mean {np.log(y).mean():.4f}, "
                  f"log std {np.log(y).std():.4f}")
    table = Table("column", "type", "train missing", "test missing", "distinct (train)", "unparsable")
    prepared = spec.prepare(data.train)
    prepared_test = spec.prepare(data.test)
    for col in data.train.columns:
        kind = spec.raw_columns[col]
        miss_tr = data.train[col].null_count()
        miss_te = data.test[col].null_count() if col in data.test.columns else None
        table.add_row(col, kind, f"{miss_tr:,} ({miss_tr / data.train.height:.1%})",
                      "-" if miss_te is None else f"{miss_te:,} ({miss_te / data.test.height:.1%})",
                      f"{data.train[col].n_unique():,}", str(data.unparsable.get(col, "")))
    console.print(table)
    parse_issues = {}
    for part in (prepared.unparsable, prepared_test.unparsable):
        for col, n in part.items():
            parse_issues[col] = parse_issues.get(col, 0) + n
    total = sum(data.unparsable.values()) + sum(parse_issues.values())
    console.print(f"unparsable values turned into missing (train+test): {total:,}")
    for col, n in sorted({**data.unparsable, **parse_issues}.items()):
        console.print(f"  {col}: {n:,}")
    console.print(f"prepared features: {prepared.frame.width} columns "
                  f"({len(spec.features.numeric)} numeric, {len(spec.features.categorical)} categorical, "
                  f"{len(spec.features.high_cardinality)} high-cardinality, {len(spec.features.multi_label)} list, "
                  f"{len(spec.features.text)} text, {len(spec.features.flags)} flags)")
