"""Every symbol a registry row's `forward`, `math` or `rule` text uses is defined: by the row (its inputs' names,
`d<input>`, its `symbols=` table, or an `s = ...` inside the text), by the shared conventions
(ops.COMMON_SYMBOLS: C, dC, g, indices), or it is an ordinary word or function name listed below.

A new row that writes `r_i` without saying what r_i is fails here, naming the row and the symbol:
define it in the row's `symbols=` (explain_backward prints that table), or, if it is a plain
English word or a well-known function, add it to WORDS."""
import re

import pytest

import tinygrad_lite  # noqa: F401  (registers every row)
import tinygrad_lite.sparse  # noqa: F401
from tinygrad_lite.ops import COMMON_SYMBOLS, REGISTRY

# functions and words whose meaning needs no definition
FUNCTIONS = """abs acos add asin atan atan2 cast cat clamp col2im cos cumsum einsum erf exp expm1 log1p prod flip floor log
log_softmax logsumexp max mean min expand onehot permute relu reshape roll scatter_add sigmoid sign sin softmax sqrt sum
tanh where windows zeros
RowSparseGrad layer_norm dtype shape inf pi π Σ σ d""".split()  # (d: the derivative, d(x*y)/dx)
WORDS = """a accumulate added adjoint all among at axes back batch bias broadcast by constant contracted copy cut
each engine entries expanded flipped for from gathered get gets gradient in index indexed indexing indices input
inverse is it its looked major maxima maximum minima minimum not number of off on only operands other output over
passes per permuted place places positions repeats reshaped result reversed rolled row rows scattered shared slice
sparse split subscripts summed that the ties to unchanged up was weights with without written occupied
padding dims reduction window bag column gives element elements exact no others product when""".split()
INDEX = {"i", "j", "k", "c", "ᵢ"}
TOKEN = re.compile(r"[^\W\d]\w*")
# `s = ...`, `Φ(x) = ...`, `cols[k, o] = ...` at the start or after , ; : ( or "with"
DEFINES = re.compile(r"(?:^|[,;:(]|\bwith)\s*([^\W\d][\w\u0302]*)\s*(?:\([^)]*\)|\[[^\]]*\])?\s*=(?!=)")


def _strip(tok):
    """x_i -> x, dxᵢ -> dx, Wᵀ -> W, y² -> y, x̂ stays x̂ (its own symbol)."""
    tok = tok.lstrip("½").rstrip("ᵀ²³")
    if tok.startswith("_") and tok[1:] in INDEX:  # softmax(x)_i
        return tok[1:]
    if tok.endswith("ᵢ"):
        tok = tok[:-1]
    if "_" in tok and tok not in FUNCTIONS:
        base, _, sub = tok.partition("_")
        if base and (sub in INDEX or sub == "" or sub.startswith("{")):
            tok = base
    return tok


def undefined_symbols(op):
    """The tokens of op.forward, op.math and op.rule that nothing defines (see the module docstring)."""
    text = f"{op.forward} ; {op.math} ; {op.rule}".replace("^T", " ").replace("x̂", " xhat ")
    text = re.sub(r"(?<=\w)'s\b", "", text)  # x's shape: a possessive, not a symbol s
    inputs = list(op.inputs or ("x",))
    if op.inputs is None:  # variadic: x0, x1, ... written xᵢ
        inputs = ["x"]
    defined = set(inputs) | {"d" + n for n in inputs}
    defined |= {k.strip() for key in COMMON_SYMBOLS for k in key.split(",")}
    defined |= {"xhat" if k == "x̂" else k for k in op.symbols}
    defined |= {"d" + ("xhat" if k == "x̂" else k) for k in op.symbols}
    defined |= {"xhat" if m == "x̂" else m for m in DEFINES.findall(text)}
    known = set(FUNCTIONS) | set(WORDS) | INDEX
    missing = []
    for tok in TOKEN.findall(text):
        base = _strip(tok)
        if not base or tok in known or base in known or tok in defined or base in defined:
            continue
        if base.startswith("d") and base[1:] in defined:
            continue
        missing.append(tok)
    return sorted(set(missing))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_symbol_of_a_rule_is_defined(name):
    op = REGISTRY[name]
    missing = undefined_symbols(op)
    assert not missing, (f"op {name!r}: its forward/math/rule text uses {missing} without defining them; add them "
                         f"to the row's symbols={{...}} (or to WORDS in this test if they are plain words)\n"
                         f"  forward: {op.forward}\n  math: {op.math}\n  rule: {op.rule}")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_row_states_its_forward_and_each_inputs_rule(name):
    """The row is the one source of its op's texts: the explorer shows `C = <forward>` and, per input,
    the rule's `d<input> = ...` clause (Op.input_rules), so a row must give both."""
    op = REGISTRY[name]
    assert op.forward, f"op {name!r}: give the row forward=\"...\" (its formula in the inputs' names, e.g. \"x * y\")"
    n = len(op.inputs) if op.inputs is not None else 2
    rules = op.input_rules(n)
    grads = [True] * n if op.joint is not None or op.inputs is None else [v is not None for v in op.vjps]
    for inp, has_vjp, f in zip(op.input_names(n), grads, rules):
        assert (f is not None) == has_vjp, (f"op {name!r}: its rule {op.rule!r} should have one clause "
                                            f"`d{inp} = ...` per input that gets a gradient")


def test_input_rules_split_a_rule_into_its_clauses():
    from tinygrad_lite.ops import Op
    two = Op("demo", None, (None, None), "", inputs=("x", "y"), rule="dx = where(c, dC, 0), dy = dC * [y > x] (ties split)")
    assert two.input_rules(2) == ("where(c, dC, 0)", "dC * [y > x] (ties split)")
    # a helper defined after a clause (`s = ...`, `with dx̂ = ...`) is not part of the formula
    ln = Op("demo", None, (), "", inputs=("x", "w"), rule="dx = (dx̂ - mean(dx̂)) / σ with dx̂ = dC w; dw = Σ dC x̂")
    assert ln.input_rules(2) == ("(dx̂ - mean(dx̂)) / σ", "Σ dC x̂")
    assert Op("demo", None, (), "", inputs=("x",), rule="dx = s * dC, s = softmax(x)").input_rules(1) == ("s * dC",)
    # words after a separator continue the formula; a forward written first (`C = ...: `) is skipped
    emb = Op("demo", None, (), "", inputs=("W",), rule="C = W[i]: dW = zeros(W.shape) with dC added at i")
    assert emb.input_rules(1) == ("zeros(W.shape) with dC added at i",)
    # a variadic rule serves every input, under its own name; an input without a clause gets None
    cat = Op("demo", None, (), "", rule="dxᵢ = the slice of dC that xᵢ occupied")
    assert cat.input_rules(2) == ("the slice of dC that x0 occupied", "the slice of dC that x1 occupied")
    assert Op("demo", None, (), "", inputs=("c", "x"), rule="dx = dC").input_rules(2) == (None, "dC")


def test_the_check_catches_an_undefined_symbol():
    """The check is not vacuous: a row using r_i and coefs without a table fails, with the table passes."""
    from tinygrad_lite.ops import Op
    bare = Op("demo", None, (), "loss_i = r_i (logsumexp(x_i) - x_i[t_i]); dx_i = (softmax(x_i) sum(coefs) - coefs) g",
              inputs=("x",))
    assert undefined_symbols(bare) == ["coefs", "r_i", "t_i"]
    full = Op("demo", None, (), bare.math, inputs=("x",),
              symbols={"r_i": "row weight", "t_i": "target", "coefs": "coefficients"})
    assert undefined_symbols(full) == []
    # symbols defined inside the text count: `s = softmax(x)` defines s
    assert undefined_symbols(Op("demo", None, (), "dx = s * (dC - Σ(dC * s)), s = softmax(x)", inputs=("x",))) == []
    assert undefined_symbols(Op("demo", None, (), "dx = s * dC", inputs=("x",))) == ["s"]
    # the forward text is checked too
    assert undefined_symbols(Op("demo", None, (), "dx = dC", inputs=("x",), forward="x * q")) == ["q"]
