"""PNG plots of an evaluation summary (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CURVES = (("page_hit", "page hit@k"), ("page_recall", "page recall@k"), ("ndcg", "nDCG@k"))


def plot_metric_curves(summary: dict[str, Any], path: Path) -> Path:
    """One panel per metric (hit, recall, nDCG) against k, one line per channel."""
    ks = summary["ks"]
    fig, axes = plt.subplots(1, len(CURVES), figsize=(4 * len(CURVES), 3.4), sharey=True)
    for ax, (prefix, title) in zip(axes, CURVES, strict=True):
        for channel, metrics in summary["metrics"].items():
            ax.plot(ks, [metrics.get(f"{prefix}@{k}", float("nan")) for k in ks], marker="o", label=channel)
        ax.set_title(title)
        ax.set_xlabel("k")
        ax.set_xticks(ks)
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_by_evidence(summary: dict[str, Any], metric: str, path: Path) -> Path:
    """Grouped bars: one group per evidence type, one bar per channel, for one metric."""
    by_ev = summary["by_evidence"]
    types = list(by_ev)
    channels = list(summary["metrics"])
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(types) + 2), 3.4))
    width = 0.8 / max(1, len(channels))
    for j, channel in enumerate(channels):
        xs = [i + (j - (len(channels) - 1) / 2) * width for i in range(len(types))]
        ax.bar(xs, [by_ev[t].get(channel, {}).get(metric, 0.0) for t in types], width, label=channel)
    ax.set_xticks(range(len(types)))
    ax.set_xticklabels([f"{t}\n(n={summary.get('n_by_evidence', {}).get(t, '?')})" for t in types])
    ax.set_ylim(0, 1.25)  # headroom for the legend above the bars
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by evidence type")
    ax.legend(loc="upper center", ncol=max(1, len(channels)), fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
