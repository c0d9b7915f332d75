"""PyTorch comparisons (float64 forward and backward) for the tensor surface that real scripts use beyond the
core: sin, cos, cumsum, flip, roll, sort/topk, einsum, scatter, index_select, repeat... Added to the CASES of
test_ops_vs_torch.py by add_compat_cases; each composed op is filed under the registry row it is built on."""
import numpy as np

import tinygrad_lite as tl
from tinygrad_lite import Tensor


def add_compat_cases(add_case, torch, rn, away):
    for s in [(), (5,), (2, 3)]:
        add_case("sin", lambda a: a.sin(), torch.sin, rn(*s, lo=-6, hi=6))
        add_case("cos", tl.cos, torch.cos, rn(*s, lo=-6, hi=6))
        add_case("remainder", lambda a: a % 0.7, lambda a: a % 0.7, rn(*s, lo=-3, hi=3))
        add_case("remainder", lambda a: a % -0.7, lambda a: a % -0.7, rn(*s, lo=-3, hi=3))
    for s in [(), (5,), (2, 3)]:
        add_case("log1p", lambda a: a.log1p(), torch.log1p, rn(*s, lo=-0.9, hi=3))
        add_case("log1p", tl.log1p, torch.log1p, rn(*s, lo=-1e-8, hi=1e-8))  # where log(1 + x) loses digits
        add_case("expm1", tl.expm1, torch.expm1, rn(*s, lo=-3, hi=3))
        add_case("expm1", lambda a: a.expm1(), torch.expm1, rn(*s, lo=-1e-8, hi=1e-8))
        add_case("prod", lambda a: a.prod(), lambda a: a.prod(), rn(*s))
        add_case("atan", tl.atan, torch.atan, rn(*s, lo=-4, hi=4))
        add_case("asin", lambda a: a.asin(), torch.asin, rn(*s, lo=-0.95, hi=0.95))
        add_case("acos", tl.acos, torch.acos, rn(*s, lo=-0.95, hi=0.95))
        add_case("atan2", tl.atan2, torch.atan2, rn(*s), rn(*s))
    add_case("atan2", lambda a, b: a.atan2(b), lambda a, b: a.atan2(b), rn(2, 3), rn(3))
    add_case("atan2", lambda a: a.atan2(-1.5), lambda a: a.atan2(torch.tensor(-1.5, dtype=torch.float64)), rn(2, 3))
    x24 = rn(2, 4)
    z1, z2 = x24.copy(), x24.copy()
    z1[1, 2] = 0.0                     # one zero in a row: its gradient is the product of the others
    z2[0, 1] = z2[0, 3] = 0.0          # two zeros in a row: all of that row's gradient is 0
    for x in (x24, z1, z2):
        add_case("prod", lambda a: a.prod(), lambda a: a.prod(), x)
        add_case("prod", lambda a: tl.prod(a, 1), lambda a: torch.prod(a, 1), x)
        add_case("prod", lambda a: a.prod(0, keepdim=True), lambda a: a.prod(0, keepdim=True), x)
        add_case("prod", lambda a: a.prod(-1, keepdim=True), lambda a: a.prod(-1, keepdim=True), x)
    add_case("prod", lambda a: a.prod(1), lambda a: a.prod(1), rn(2, 3, 4))
    # (the divisor as a constant here; its gradient -floor(x/y) against PyTorch: test_fast_paths_vs_torch.py)
    b = away(3) * 1.5
    add_case("remainder", lambda a: tl.remainder(a, Tensor(b)), lambda a: torch.remainder(a, torch.tensor(b)),
             rn(2, 3, lo=-4, hi=4))
    x234 = rn(2, 3, 4)
    for d in (0, 1, -1):
        add_case("cumsum", lambda a, d=d: a.cumsum(d), lambda a, d=d: a.cumsum(d), x234)
        add_case("flip", lambda a, d=d: a.flip(d), lambda a, d=d: a.flip(d), x234)
        add_case("roll", lambda a, d=d: tl.roll(a, 2, d), lambda a, d=d: torch.roll(a, 2, d), x234)
        add_case("getitem", lambda a, d=d: a.sort(d).values, lambda a, d=d: a.sort(d).values, x234)
        add_case("getitem", lambda a, d=d: a.sort(d, descending=True), lambda a, d=d: a.sort(d, descending=True), x234)
        add_case("getitem", lambda a, d=d: tl.topk(a, 2, d), lambda a, d=d: torch.topk(a, 2, d), x234)
        add_case("getitem", lambda a, d=d: a.topk(2, d, largest=False), lambda a, d=d: a.topk(2, d, largest=False), x234)
        add_case("getitem", lambda a, d=d: a.unbind(d), lambda a, d=d: a.unbind(d), x234)
        add_case("getitem", lambda a, d=d: a.narrow(d, 1, 1), lambda a, d=d: a.narrow(d, 1, 1), x234)
        add_case("getitem", lambda a, d=d: a.index_select(d, Tensor(np.array([1, 0, 1]))),
                 lambda a, d=d: a.index_select(d, torch.tensor([1, 0, 1])), x234)
        add_case("getitem", lambda a, d=d: a.repeat_interleave(2, d), lambda a, d=d: a.repeat_interleave(2, d), x234)
    add_case("flip", lambda a: a.flip(0, 2), lambda a: a.flip(0, 2), x234)
    add_case("roll", lambda a: a.roll((1, -2), (0, 2)), lambda a: a.roll((1, -2), (0, 2)), x234)
    add_case("roll", lambda a: a.roll(5), lambda a: a.roll(5), x234)
    add_case("getitem", lambda a: a.repeat_interleave(Tensor(np.array([1, 0, 2])), dim=1),
             lambda a: a.repeat_interleave(torch.tensor([1, 0, 2]), dim=1), x234)
    add_case("getitem", lambda a: a.repeat_interleave(3), lambda a: a.repeat_interleave(3), rn(2, 2))
    add_case("expand", lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3), rn(3, 2))
    add_case("expand", lambda a: a.repeat(2, 2), lambda a: a.repeat(2, 2), rn(3))
    add_case("matmul", tl.mm, torch.mm, rn(2, 3), rn(3, 4))
    add_case("matmul", lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), rn(2, 2, 3), rn(2, 3, 4))
    add_case("matmul", lambda a, b: tl.matmul(input=a, other=b), lambda a, b: torch.matmul(input=a, other=b),
             rn(2, 3), rn(3))
    add_case("add", lambda a, b: tl.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5), rn(2, 3), rn(3))
    add_case("sum", lambda a: tl.sum(input=a, dim=1), lambda a: torch.sum(input=a, dim=1), x234)
    add_case("abs", lambda a: abs(a), lambda a: abs(a), away(2, 3))
    add_case("reshape", lambda a, b: a.view_as(b) + a.reshape_as(b), lambda a, b: a.view_as(b) + a.reshape_as(b),
             rn(2, 6), rn(3, 4))
    add_case("cast", lambda a, b: a.type_as(b) * 2, lambda a, b: a.type_as(b) * 2, rn(2, 3),
             rn(3).astype(np.float32))
    add_case("contiguous", lambda a: a.transpose(0, 2).contiguous().view(-1),
             lambda a: a.transpose(0, 2).contiguous().view(-1), x234)
    for eq, shapes in [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("i,i->", [(3,), (3,)]),
                       ("i,j->ij", [(3,), (2,)]), ("ij->ji", [(2, 3)]), ("ijk->j", [(2, 3, 2)]),
                       ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 4)]), ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 4, 2)]),
                       ("ij,kj->i", [(2, 3), (4, 3)]), ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 1)]),
                       ("ij,j", [(2, 3), (3,)]), ("b i d, b j d -> b i j", [(2, 3, 4), (2, 2, 4)])]:
        add_case("einsum", lambda *xs, e=eq: tl.einsum(e, *xs), lambda *xs, e=eq: torch.einsum(e, *xs),
                 *[rn(*s) for s in shapes])
    idx = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
    add_case("scatter", lambda a, s: a.scatter(1, Tensor(idx[:, :3]), s),
             lambda a, s: a.scatter(1, torch.tensor(idx[:, :3]), s), rn(2, 3), rn(2, 3))
    add_case("scatter", lambda a, s: a.scatter_add(1, Tensor(idx), s),
             lambda a, s: a.scatter_add(1, torch.tensor(idx), s), rn(2, 3), rn(2, 4))
    add_case("scatter", lambda a, s: tl.scatter_add(a, 0, Tensor(idx[:, :3]), s),
             lambda a, s: torch.scatter_add(a, 0, torch.tensor(idx[:, :3]), s), rn(3, 3), rn(2, 3))
    add_case("scatter", lambda a: a.scatter(0, Tensor(np.array([[1, 0, 2]])), 0.5),
             lambda a: a.scatter(0, torch.tensor([[1, 0, 2]]), 0.5), rn(3, 3))
