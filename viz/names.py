"""The names an op's inputs go by in pictures and in explain_backward.

A rule names its inputs (`x`, `y` for mul; `A`, `B` for matmul). When the user named the tensors
(`Tensor.name`, `params=`, `model=`) and one of those names is also one of the rule's names, in
another place (`y * log_p`: the rule's x is the user's y), the rule's letters would mislead; then
the inputs go by the user's names and the rule text is rewritten with them (`dx = dC * y` becomes
`dy = dC * log_p`). Otherwise the rule's own short names stay.
"""
import re

__all__ = ["input_labels", "rule_with_names", "grad_symbol"]

# a rule's symbol: not inside a longer word (x_i, dx, max, x̂ stay as they are)
_SYMBOL = r"(?<![\w.]){}(?![\w\u0302])"


def input_labels(rule_names, user_names):
    """(labels, renamed): the name of each input as shown. `renamed` is True when the rule's names
    collided with the user's (some user name is the rule's name of a different input) and the
    labels are the user's names (unnamed inputs keep the rule's name, made unique)."""
    rule_names = tuple(rule_names)
    named = [(i, n) for i, n in enumerate(user_names) if n]
    # a clash: your name is the rule's name of another input that is not the same tensor (x * x is fine)
    clash = any(n in rule_names and rule_names.index(n) != i and user_names[rule_names.index(n)] != n
                for i, n in named)
    if not clash:
        return rule_names, False
    labels = [n or r for n, r in zip(user_names, rule_names)]
    seen = {}
    for i, lab in enumerate(labels):
        if lab in seen:  # an unnamed input whose rule name is a user's name elsewhere: prime it
            j = i if not user_names[i] else seen[lab]
            labels[j] = labels[j] + "′"
        seen[labels[i]] = i
    return tuple(labels), True


def grad_symbol(name):
    """d<name> for a short name (dW), d(<name>) for one with spaces or dots (d(net.0.weight))."""
    return "d" + name if re.fullmatch(r"[^\W\d][\w′]*", name) else f"d({name})"


def rule_with_names(text, rule_names, labels):
    """`text` with each rule name (and its gradient d<name>) replaced by the label of that input,
    all at once (x -> y and y -> log_p do not chain)."""
    if not text or tuple(rule_names) == tuple(labels):
        return text
    table = {}
    for r, lab in zip(rule_names, labels):
        if r != lab:
            table["d" + r] = grad_symbol(lab)
            table[r] = lab
    pattern = "|".join(_SYMBOL.format(re.escape(k)) for k in sorted(table, key=len, reverse=True))
    return re.sub(pattern, lambda m: table[m.group(0)], text)
