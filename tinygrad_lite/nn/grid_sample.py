"""F.grid_sample and F.affine_grid for 2-D images, with PyTorch's conventions: a grid of (x, y) points in
[-1, 1] (x across the width), read from the input by bilinear or nearest interpolation.

Each output point is a weighted sum of at most four input pixels, picked with `gather`; the weights
are expressions of the grid, so autograd gives the gradients for both the input and the grid (the
pixel picked, floor(x), is a constant of the graph, as in PyTorch)."""
import numpy as np

from ..functions import where
from ..tensor import Tensor

__all__ = ["grid_sample", "affine_grid"]


def _unnormalize(coord, size, align_corners):
    """[-1, 1] -> pixel coordinates: -1 and 1 are the centres of the end pixels (align_corners) or their
    outer edges."""
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _border(coord, size):
    """coord clamped to [0, size - 1]; as in PyTorch, the gradient is 0 at the bounds too, not only beyond."""
    c = coord.detach().numpy()
    inside = Tensor._leaf((c > 0) & (c < size - 1))
    return where(inside, coord, Tensor._leaf(np.clip(c, 0, size - 1)))


def _reflect(coord, size, align_corners):
    """coord reflected at the image's edges (the end pixels' centres, or their outer edges without
    align_corners) until it lies inside, then clamped to [0, size - 1]. Each reflection flips the
    gradient's sign; the clamp's is 0 at the bounds, as PyTorch's."""
    c = coord.detach().numpy().astype(np.float64)
    lo, hi = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
    span = hi - lo
    if span <= 0:
        return coord * 0.0
    d = c - lo
    sign = np.where(d < 0, -1.0, 1.0)
    d = np.abs(d)
    flips = np.floor(d / span)
    extra = np.fmod(d, span)
    odd = np.fmod(flips, 2) == 1
    reflected = np.where(odd, span - extra, extra) + lo
    sign = np.where(odd, -sign, sign)
    dt = coord.dtype
    mirrored = coord * Tensor._leaf(sign.astype(dt)) + Tensor._leaf((reflected - sign * c).astype(dt))
    return _border(mirrored, size)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W), grid (N, H_out, W_out, 2) -> (N, C, H_out, W_out). mode 'bilinear' or 'nearest'
    (round half to even); padding_mode 'zeros' (points outside read 0), 'border' (clamped to the edge) or
    'reflection' (mirrored at the edges).
    align_corners defaults to False, as PyTorch's."""
    op = "grid_sample"
    if not isinstance(input, Tensor) or not isinstance(grid, Tensor):
        raise TypeError(f"{op}: expected Tensors for input and grid, got {type(input).__name__} and "
                        f"{type(grid).__name__}")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(f"{op}: expected input (N, C, H, W) and grid (N, H_out, W_out, 2) with the same N, got "
                         f"{tuple(input.shape)} and {tuple(grid.shape)} (5-D volumes are not supported)")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"{op}: mode must be 'bilinear' or 'nearest', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{op}: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    N, C, H, W = input.shape
    L = grid.shape[1] * grid.shape[2]
    ix = _unnormalize(grid[..., 0].reshape(N, L), W, bool(align_corners))
    iy = _unnormalize(grid[..., 1].reshape(N, L), H, bool(align_corners))
    if padding_mode == "border":
        ix, iy = _border(ix, W), _border(iy, H)
    elif padding_mode == "reflection":
        ix, iy = _reflect(ix, W, bool(align_corners)), _reflect(iy, H, bool(align_corners))
    pixels = input.reshape(N, C, H * W)

    def tap(xi, yi, weight):
        """weight times the pixel at integer (xi, yi) of each point, 0 outside the image: (N, C, L)."""
        inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
        where = np.where(inside, yi * W + xi, 0).astype(np.int64)
        picked = pixels.gather(2, Tensor._leaf(np.broadcast_to(where[:, None, :], (N, C, L)).copy()))
        return picked * (weight * Tensor._leaf(inside.astype(input.dtype))).unsqueeze(1)

    if mode == "nearest":
        xr, yr = np.rint(ix.detach().numpy()).astype(np.int64), np.rint(iy.detach().numpy()).astype(np.int64)
        out = tap(xr, yr, Tensor._leaf(np.ones((N, L), input.dtype)))
    else:
        x0, y0 = np.floor(ix.detach().numpy()), np.floor(iy.detach().numpy())
        fx, fy = ix - Tensor._leaf(x0), iy - Tensor._leaf(y0)  # where in the cell, in [0, 1)
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        out = (tap(x0, y0, (1 - fx) * (1 - fy)) + tap(x0 + 1, y0, fx * (1 - fy))
               + tap(x0, y0 + 1, (1 - fx) * fy) + tap(x0 + 1, y0 + 1, fx * fy))
    return out.reshape(N, C, grid.shape[1], grid.shape[2])


def affine_grid(theta, size, align_corners=None):
    """The (N, H, W, 2) grid of theta (N, 2, 3) applied to the base grid of size (N, C, H, W): each output
    point (x, y) in [-1, 1] maps to theta @ (x, y, 1). Differentiable in theta."""
    if not isinstance(theta, Tensor) or theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
        raise ValueError(f"affine_grid: expected theta of shape (N, 2, 3), got "
                         f"{tuple(getattr(theta, 'shape', ())) or type(theta).__name__}")
    if len(size) != 4 or size[0] != theta.shape[0]:
        raise ValueError(f"affine_grid: size must be (N, C, H, W) with N = {theta.shape[0]}, got {tuple(size)}")
    N, _, H, W = (int(s) for s in size)

    def axis(n):
        if n == 1:
            return np.zeros(1)
        t = np.linspace(-1.0, 1.0, n)
        return t if align_corners else t * (n - 1) / n
    xs, ys = np.meshgrid(axis(W), axis(H))
    base = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(1, H * W, 3).astype(theta.dtype)
    return (Tensor._leaf(base) @ theta.transpose(1, 2)).reshape(N, H, W, 2)
