"""torch.linalg's norms (tinygrad_lite.linalg.vector_norm, matrix_norm, norm), composed from engine ops.
Decompositions (inv, solve, svd, qr, eigh...) are not supported."""
from .tensor_more import matrix_norm, vector_norm

__all__ = ["vector_norm", "matrix_norm", "norm"]


def norm(A, ord=None, dim=None, keepdim=False):
    """torch.linalg.norm: with dim=None and ord=None the 2-norm of all elements; an int dim (or a 1-D A) is a
    vector norm, a 2-tuple dim (or a 2-D A with ord given) a matrix norm ('fro' by default)."""
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
        if len(dim) == 1:
            dim = dim[0]
    if isinstance(dim, tuple):
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim)
    if dim is None and ord is not None:
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim)
        if A.ndim != 1:
            raise ValueError(f"linalg.norm: with ord={ord!r} and dim=None the input must be 1-D or 2-D, "
                             f"got shape {tuple(A.shape)}")
    if isinstance(ord, str):
        raise ValueError(f"linalg.norm: ord={ord!r} is a matrix norm; give dim as a 2-tuple or a 2-D input")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim)
