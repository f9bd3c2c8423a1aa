"""The weekly report's chart: revenue bars with orders and signups lines, as a PNG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def render(table: pd.DataFrame, title: str, currency: str, path: Path) -> None:
    """Draw the daily ``table`` (revenue, orders, signups per day) into a PNG at ``path``."""
    from matplotlib.figure import Figure  # a bare Figure draws with Agg, no pyplot state

    figure = Figure(figsize=(9, 4.5), layout="constrained")
    revenue_axis = figure.subplots()
    labels = [f"{day:%a %d}" for day in table.index]
    revenue_axis.bar(labels, table["revenue"], color="#9ecae1", label=f"revenue ({currency})")
    revenue_axis.set_ylabel(f"revenue ({currency})")
    counts_axis = revenue_axis.twinx()
    counts_axis.plot(labels, table["orders"], marker="o", color="#08519c", label="orders")
    counts_axis.plot(labels, table["signups"], marker="s", color="#e6550d", label="signups")
    counts_axis.set_ylabel("orders, signups")
    counts_axis.set_ylim(bottom=0)
    handles = [*revenue_axis.get_legend_handles_labels()[0], *counts_axis.get_lines()]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small")
    revenue_axis.set_title(title)
    figure.savefig(path, format="png", dpi=100)
