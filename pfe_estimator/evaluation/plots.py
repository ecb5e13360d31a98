"""PNG plots of an evaluation (matplotlib, Agg backend), each written atomically."""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pfe_estimator.storage import atomic_files


def _save(figure, path):
    with atomic_files.writing(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight")
    plt.close(figure)


def roc(curves, path, title):
    """curves: {label: (false accept rates, true accept rates)}; log-scale FAR axis."""
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    for label, (far, tar) in curves.items():
        keep = far > 0
        axis.plot(far[keep], tar[keep], label=label)
    axis.set_xscale("log")
    axis.set_xlabel("false accept rate")
    axis.set_ylabel("true accept rate")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="lower right")
    _save(figure, path)


def histogram(values, path, title, xlabel):
    figure, axis = plt.subplots(figsize=(5.5, 4))
    axis.hist(values, bins=60, color="#4477aa")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("faces")
    axis.set_title(title)
    _save(figure, path)


def curves(x, series, path, title, xlabel, ylabel):
    """series: {label: y values over x}."""
    figure, axis = plt.subplots(figsize=(5.5, 4))
    for label, y in series.items():
        axis.plot(x, y, marker="o", markersize=3, label=label)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(True, alpha=0.3)
    axis.legend()
    _save(figure, path)


def reliability(diagrams, path, title):
    """diagrams: {label: (mean predicted [B], observed frequency [B], count [B])}; the diagonal is perfect
    calibration."""
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="perfectly calibrated")
    for label, (predicted, observed, counts) in diagrams.items():
        filled = np.asarray(counts) > 0
        axis.plot(np.asarray(predicted)[filled], np.asarray(observed)[filled], marker="o", markersize=4, label=label)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("predicted P(same identity)")
    axis.set_ylabel("observed frequency of same identity")
    axis.set_title(title)
    axis.grid(True, alpha=0.3)
    axis.legend(loc="upper left")
    _save(figure, path)


def face_rows(rows, path, title):
    """rows: list of (row title, [(uint8 RGB image, caption)]); one row of faces each."""
    columns = max(len(faces) for _, faces in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.3 * columns, 1.9 * len(rows)), squeeze=False)
    for row, (row_title, faces) in enumerate(rows):
        for column in range(columns):
            axis = axes[row][column]
            axis.axis("off")
            if column < len(faces):
                image, caption = faces[column]
                axis.imshow(np.asarray(image))
                axis.set_title(caption, fontsize=6)
        axes[row][0].text(-0.1, 0.5, row_title, transform=axes[row][0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=8)
    figure.suptitle(title, fontsize=10)
    _save(figure, path)


def interval_bars(groups, series, path, title, xlabel):
    """Horizontal points with interval bars, one row per group: series {label: [(value, low, high)] per group};
    a vertical line at 0."""
    figure, axis = plt.subplots(figsize=(6.5, 0.28 * len(groups) + 1.5))
    offsets = np.linspace(-0.2, 0.2, len(series)) if len(series) > 1 else [0.0]
    rows = np.arange(len(groups))
    for offset, (label, values) in zip(offsets, series.items()):
        values = np.asarray(values, np.float64).reshape(-1, 3)
        axis.errorbar(values[:, 0], rows + offset, xerr=[values[:, 0] - values[:, 1], values[:, 2] - values[:, 0]],
                      fmt="o", markersize=3, capsize=2, label=label)
    axis.axvline(0.0, color="black", linewidth=0.8)
    axis.set_yticks(rows)
    axis.set_yticklabels(groups, fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel(xlabel)
    axis.set_title(title)
    axis.grid(True, axis="x", alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)


def rates_by_stratum(strata, series, nominal, path, title):
    """Achieved rates per stratum on a log axis, one marker series per score ({label: [rate or None]}), and
    the nominal rate as a line."""
    figure, axis = plt.subplots(figsize=(max(6.5, 0.3 * len(strata) + 2), 4))
    positions = np.arange(len(strata))
    for label, values in series.items():
        rates = np.array([np.nan if v is None or v <= 0 else v for v in values], np.float64)
        axis.plot(positions, rates, "o", markersize=4, label=label)
    axis.axhline(nominal, color="black", linewidth=0.8, label="nominal %g" % nominal)
    axis.set_yscale("log")
    axis.set_xticks(positions)
    axis.set_xticklabels(strata, rotation=90, fontsize=7)
    axis.set_ylabel("false match rate")
    axis.set_title(title, fontsize=10)
    axis.grid(True, which="both", axis="y", alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)


def curves_xy(series, path, title, xlabel, ylabel):
    """Curves with their own x values: series {label: (x [K], y [K])}."""
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for label, (x, y) in series.items():
        axis.step(x, y, where="post", label=label)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=10)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)
