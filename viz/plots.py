"""Matplotlib plots (Agg backend, no display needed): training curves, PCA of word vectors,
attention heat maps. Each plot_* function writes a PNG (or any format matplotlib knows from the
extension) and returns the path; its *_figure twin returns the matplotlib Figure instead (to show,
inspect or save yourself; close it with matplotlib.pyplot.close)."""
import os

import numpy as np

__all__ = ["plot_training_curves", "plot_embeddings_pca", "plot_attention", "pca_2d", "embeddings_pca_figure",
           "attention_figure", "training_curves_figure"]


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _arr(x):
    if hasattr(x, "_data"):
        return np.asarray(x._data)
    return np.asarray(x)


def _series(metrics, keys):
    """(steps, values) for the first key found in metrics (dict of lists, or list of dicts)."""
    if isinstance(metrics, dict):
        for k in keys:
            if k in metrics and metrics[k] is not None and len(metrics[k]):
                v = metrics[k]
                if len(v) and isinstance(v[0], (tuple, list)) and len(v[0]) >= 2:
                    # (step, value) pairs, or (step, train, val) triples as models.gpt.train returns
                    return np.asarray([r[0] for r in v], float), np.asarray([r[-1] for r in v], float)
                steps = metrics.get(k + "_steps") or metrics.get("val_steps" if k.startswith("val") else "steps") \
                    or metrics.get("step")
                y = np.asarray(v, float)
                s = np.asarray(steps, float) if steps is not None and len(steps) == len(y) else np.arange(len(y))
                return s, y
        return None
    rows = [r for r in metrics if any(k in r and r[k] is not None for k in keys)]
    if not rows:
        return None
    k = next(k for k in keys if any(k in r for r in rows))
    rows = [r for r in rows if k in r and r[k] is not None]
    s = np.asarray([r.get("step", i) for i, r in enumerate(rows)], float)
    return s, np.asarray([r[k] for r in rows], float)


def plot_training_curves(metrics, path, val_loss=None, title="Training curves", logy=False):
    """Plot loss (and validation loss) against step and save to `path`.

    metrics: a list of training losses; or a dict with "loss"/"train_loss" (and optionally
             "val_loss"/"val", "step"/"steps", "val_steps", or lists of (step, value) pairs or
             (step, train, val) triples, as `models.gpt.train` returns); or a list
             of dicts like {"step": 10, "loss": 2.3, "val_loss": 2.5}.
    val_loss: optional separate list of validation losses (or (step, value) pairs).
    logy:    log-scale y axis.
    Returns path."""
    plt = _plt()
    fig = training_curves_figure(metrics, val_loss=val_loss, title=title, logy=logy)
    fig.savefig(os.fspath(path))
    plt.close(fig)
    return path


def training_curves_figure(metrics, val_loss=None, title="Training curves", logy=False):
    """The matplotlib Figure of plot_training_curves (the caller saves and closes it)."""
    plt = _plt()
    if isinstance(metrics, (list, tuple, np.ndarray)) and (len(metrics) == 0 or not isinstance(metrics[0], dict)):
        metrics = {"loss": list(metrics)}
    train = _series(metrics, ("loss", "train_loss", "train"))
    val = _series(metrics, ("val_loss", "valid_loss", "val"))
    if val_loss is not None:
        val = _series({"val_loss": list(val_loss)}, ("val_loss",))
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    if train is not None:
        ax.plot(train[0], train[1], label="loss", color="#1c5fb8", lw=1.4)
    if val is not None:
        ax.plot(val[0], val[1], label="val loss", color="#d9480f", lw=1.6, marker="o", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def pca_2d(vectors):
    """Project (N, d) vectors onto their first two principal components (numpy SVD).
    Returns ((N, 2) coordinates, explained-variance ratios of the two components)."""
    X = _arr(vectors).astype(np.float64)
    X = X - X.mean(axis=0, keepdims=True)
    U, S, Vt = np.linalg.svd(X, full_matrices=False)
    k = min(2, Vt.shape[0])
    coords = X @ Vt[:k].T
    if k < 2:
        coords = np.concatenate([coords, np.zeros((len(X), 2 - k))], axis=1)
    var = S ** 2
    ratio = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    # deterministic sign: the largest-magnitude coordinate of each component is positive
    for j in range(k):
        if coords[np.argmax(np.abs(coords[:, j])), j] < 0:
            coords[:, j] *= -1
    return coords, ratio


# label positions tried around a point, in points: (dx, dy, horizontal alignment, vertical alignment)
_LABEL_SPOTS = [(4, 3, "left", "bottom"), (4, -3, "left", "top"), (-4, 3, "right", "bottom"),
                (-4, -3, "right", "top"), (6, 0, "left", "center"), (-6, 0, "right", "center"),
                (0, 6, "center", "bottom"), (0, -6, "center", "top")]


def _overlap(a, b):
    """Area of the intersection of two (x0, y0, x1, y1) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _place_labels(fig, ax, coords, labels, order, forced, max_labels, style):
    """Annotate points without overlapping labels: each label (in `order`) takes the first free spot
    of _LABEL_SPOTS around its point (free = inside the axes, clear of the labels placed so far and
    of the other points); a label with no free spot is left out, unless it is `forced` (then it takes
    the least crowded spot). At most `max_labels` unforced labels. Returns the indices labelled."""
    fig.canvas.draw()  # fixes the layout, so the boxes measured below are the final ones
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    pts = ax.transData.transform(coords)
    r = 3.0 * fig.dpi / 72.0  # a marker's radius in pixels
    dots = [(x - r, y - r, x + r, y + r) for x, y in pts]
    placed, boxes, unforced = [], [], 0
    if ax.get_legend() is not None:  # keep the legend clear too
        lb = ax.get_legend().get_window_extent(renderer)
        boxes.append((lb.x0, lb.y0, lb.x1, lb.y1))
    for i in order:
        if i not in forced and unforced >= max_labels:
            continue
        best = None
        for dx, dy, ha, va in _LABEL_SPOTS:
            t = ax.annotate(labels[i], coords[i], xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                            annotation_clip=False, **style(i))
            bb = t.get_window_extent(renderer)
            box = (bb.x0 - 1, bb.y0 - 1, bb.x1 + 1, bb.y1 + 1)
            inside = frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1] and box[3] <= frame.y1
            clash = sum(_overlap(box, o) for o in boxes) + sum(_overlap(box, d) for j, d in enumerate(dots) if j != i)
            cost = clash + (0.0 if inside else 1e9)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, t, box)
            else:
                t.remove()
            if cost == 0:
                break
        if best[0] > 0 and i not in forced:
            best[1].remove()
            continue
        placed.append(i)
        boxes.append(best[2])
        unforced += i not in forced
    return placed


def embeddings_pca_figure(vectors, labels, highlight=None, max_labels=40, title="Word vectors (PCA)"):
    """The matplotlib Figure of plot_embeddings_pca (the caller saves and closes it).

    Every highlighted word is labelled; the other points get a label only where it fits without
    overlapping another label or point (at most `max_labels` of them, in the order given).
    The labelled indices are in `fig.labelled` and the highlighted ones in `fig.highlighted`."""
    plt = _plt()
    coords, ratio = pca_2d(vectors)
    labels = [str(l) for l in labels]
    hl = set(highlight or ())
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    mask = np.array([l in hl for l in labels], bool)
    ax.scatter(coords[~mask, 0], coords[~mask, 1], s=12, color="#8796ab", alpha=0.7 if hl else 0.9,
               label="others" if hl else None)
    if mask.any():
        ax.scatter(coords[mask, 0], coords[mask, 1], s=34, color="#d9480f", label="highlighted", zorder=3)
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
    ax.set_xlabel(f"PC 1 ({ratio[0] * 100:.0f}% var)")
    ax.set_ylabel(f"PC 2 ({ratio[1] * 100:.0f}% var)" if len(ratio) > 1 else "PC 2")
    ax.set_title(title)
    ax.grid(alpha=0.25)
    ax.margins(0.12)  # room for the labels of the outermost points
    fig.tight_layout()
    forced = {i for i in range(len(labels)) if mask[i]}
    order = sorted(forced) + [i for i in range(len(labels)) if i not in forced]

    def style(i):
        if mask[i]:
            return dict(fontsize=10, color="#8a2b00", fontweight="bold")
        return dict(fontsize=8, color="#333333")
    fig.labelled = _place_labels(fig, ax, coords, labels, order, forced, max_labels, style)
    fig.highlighted = sorted(forced)
    return fig


def plot_embeddings_pca(vectors, labels, path, highlight=None, max_labels=40, title="Word vectors (PCA)"):
    """Scatter the 2-D PCA projection of `vectors` (N, d) with text labels and save to `path`.

    labels:    N strings (e.g. the vocabulary).
    highlight: optional list of labels to emphasise (drawn in colour, always labelled).
    max_labels: at most this many other points are labelled, each only where its label fits
               without overlapping another label or point (so crowded clusters stay readable).
    Returns path."""
    plt = _plt()
    fig = embeddings_pca_figure(vectors, labels, highlight=highlight, max_labels=max_labels, title=title)
    fig.savefig(os.fspath(path))
    plt.close(fig)
    return path


def plot_attention(weights, tokens, path, title="Attention weights", max_cols=4):
    """Heat maps of attention weights, one panel per head, in a grid; save to `path`.

    weights: (H, T, T) or (T, T) (or (1, H, T, T)) array/Tensor, rows = queries, cols = keys.
    tokens:  T labels for the axes (strings or characters); None for indices.
    Returns path."""
    plt = _plt()
    fig = attention_figure(weights, tokens, title=title, max_cols=max_cols)
    fig.savefig(os.fspath(path))
    plt.close(fig)
    return path


def attention_figure(weights, tokens, title="Attention weights", max_cols=4):
    """The matplotlib Figure of plot_attention (the caller saves and closes it)."""
    plt = _plt()
    w = _arr(weights).astype(np.float64)
    while w.ndim > 3 and w.shape[0] == 1:
        w = w[0]
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3:
        raise ValueError(f"plot_attention: expected weights of shape (H, T, T) or (T, T), got {w.shape}")
    H, T, _ = w.shape
    shown = {" ": "␣", "\n": "\\n", "\t": "\\t"}
    tokens = [shown.get(str(t), str(t)) for t in tokens] if tokens is not None else [str(i) for i in range(T)]
    cols = min(H, max_cols)
    rows = -(-H // cols)
    size = max(2.6, min(5.0, 0.28 * T + 1.2))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 1.0, size * rows + 0.8), dpi=100, squeeze=False,
                             layout="constrained")
    im = None
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h >= H:
            ax.axis("off")
            continue
        im = ax.imshow(w[h], cmap="viridis", vmin=0.0, vmax=max(1e-9, float(w.max())), interpolation="nearest")
        ax.set_title(f"head {h}" if H > 1 else "attention", fontsize=10)
        if T <= 40:
            ax.set_xticks(range(T))
            ax.set_yticks(range(T))
            ax.set_xticklabels(tokens[:T], fontsize=7, rotation=90)
            ax.set_yticklabels(tokens[:T], fontsize=7)
        ax.set_xlabel("key", fontsize=8)
        ax.set_ylabel("query", fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8)
    fig.suptitle(title)
    return fig
