"""What a tensor is made of: the fields of every Tensor, in one base class.

`TensorBase` is the base class of `Tensor` (tensor.py). The modules that hold Tensor's methods
(tensor_math, tensor_reduce, tensor_shape, tensor_inplace) and the argument helpers sit below
tensor.py in the import order; they recognise a tensor with `isinstance(x, TensorBase)` and
make new ones through the tensor at hand (`self._leaf`, `self._make`), so no module needs a
late binding of the Tensor class.

A tensor made by a recorded op keeps `_op` (its row in the op registry), `_inputs` (the tensors it
was made from) and `_args` (the op's non-tensor parameters): that is the whole graph. Leaves have
`_op = None`. `_seq` numbers tensors in creation order (see versions.py).
"""


class TensorBase:
    __slots__ = ("_data",          # the numpy array
                 "_grad",          # the accumulated gradient (a Tensor) or None: Tensor.grad checks assignments
                 "requires_grad",
                 "_op",            # the registry row of the op that made it (None for leaves)
                 "_inputs",        # the tensors it was made from (None for leaves, and once backward freed it)
                 "_args",          # the op's non-tensor parameters (never written to after the forward)
                 "_ctx",           # what the op's forward saved for its backward (a row's `saves`), None,
                                   # or autograd.FREED once a backward without retain_graph has run
                 "_seq",           # creation number: backward's topological order
                 "_version",       # bumped by in-place updates
                 "_hooks",         # gradient hooks (register_hook, retain_grad) or None
                 "name",           # an optional name for graph pictures
                 "_base",          # the sources of a view (weak references), else None
                 "_redirect",      # after a recorded in-place op: the tensor holding the value before it
                 "__weakref__")
    __array_priority__ = 1000  # so that ndarray + Tensor calls Tensor.__radd__
