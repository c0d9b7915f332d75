"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, batch_first) and their cells, as PyTorch.

Each layer runs step by step from engine ops (linear, sigmoid, tanh), so autograd derives
backpropagation through time. The input-to-hidden product of every time step is one GEMM before the
loop; each step then adds the hidden-to-hidden product. Parameter names, shapes, gate order and
initialisation are PyTorch's (weight_ih_l0 (G*H, H_in), weight_hh_l0 (G*H, H), bias_ih_l0, bias_hh_l0,
`_reverse` for the backward direction; all U(-1/sqrt(H), 1/sqrt(H))), so a PyTorch state_dict loads.

Gates (G of them per step), with x_t W_ih^T + b_ih precomputed and h the previous hidden state:
    RNN  (G=1): h = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)            (or relu)
    LSTM (G=4): i, f, g, o = split(...);  c = sigmoid(f) c + sigmoid(i) tanh(g);  h = sigmoid(o) tanh(c)
    GRU  (G=3): r, z = sigmoid(xr + hr), sigmoid(xz + hz);  n = tanh(xn + r hn);  h = (1 - z) n + z h
"""
import math

import numpy as np

from ..dtypes import DEFAULT, to_dtype
from ..functions import cat, stack
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---------------------------------------------------------------------- one time step of each kind
# xw: x_t W_ih^T + b_ih (N, G*H); h, c: (N, H). Each returns the new state: h, or (h, c) for the LSTM.
def _rnn_tanh_step(xw, h, w_hh, b_hh):
    return (xw + F.linear(h, w_hh, b_hh)).tanh()


def _rnn_relu_step(xw, h, w_hh, b_hh):
    return (xw + F.linear(h, w_hh, b_hh)).relu()


def _lstm_step(xw, state, w_hh, b_hh):
    h, c = state
    H = h.shape[-1]
    gates = xw + F.linear(h, w_hh, b_hh)                     # (N, 4H): i, f, g, o
    ifo = gates.sigmoid()  # (one sigmoid for i, f and o: fewer graph nodes; g's quarter is unused)
    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 3 * H:]
    g = gates[:, 2 * H:3 * H].tanh()
    c = f * c + i * g
    return o * c.tanh(), c


def _gru_step(xw, h, w_hh, b_hh):
    H = h.shape[-1]
    hw = F.linear(h, w_hh, b_hh)                              # (N, 3H): r, z, n
    rz = (xw[:, :2 * H] + hw[:, :2 * H]).sigmoid()
    r, z = rz[:, :H], rz[:, H:]
    n = (xw[:, 2 * H:] + r * hw[:, 2 * H:]).tanh()
    return n + z * (h - n)                                    # = (1 - z) n + z h


_STEPS = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step, "LSTM": _lstm_step, "GRU": _gru_step}


def _params(module, shapes, dtype, names):
    dt = to_dtype(dtype) or DEFAULT.dtype
    for name, shape in zip(names, shapes):
        setattr(module, name, Parameter(Tensor._leaf(np.zeros(shape, dt))))


def _uniform_all(module):
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for p in module.parameters():
        init.uniform_(p, -stdv, stdv)


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters, shape checks and the loop over layers and directions."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout should be a number in [0, 1] representing the probability of an "
                             f"element being zeroed, got {dropout!r}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: hidden_size and num_layers must be positive, got {hidden_size} and {num_layers}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, 0
        G, H, D = _GATES[mode], self.hidden_size, 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            for direction in range(D):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                in_size = self.input_size if layer == 0 else H * D
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"] + ([f"bias_ih{sfx}", f"bias_hh{sfx}"] if bias else [])
                _params(self, [(G * H, in_size), (G * H, H), (G * H,), (G * H,)], dtype, names)
                self._flat_weights_names += names
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        _uniform_all(self)

    def flatten_parameters(self):
        """A no-op (PyTorch compacts its cuDNN weights here; scripts call it)."""

    @property
    def all_weights(self):
        """[[weight_ih, weight_hh, bias_ih, bias_hh] per layer and direction]."""
        k = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + k]] for i in range(0, len(names), k)]

    def _layer_weights(self, layer, direction):
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        p = self._parameters
        return p[f"weight_ih{sfx}"], p[f"weight_hh{sfx}"], p.get(f"bias_ih{sfx}"), p.get(f"bias_hh{sfx}")

    def _check_hidden(self, h, batch, unbatched, what):
        D = 2 if self.bidirectional else 1
        expect = (self.num_layers * D, self.hidden_size) if unbatched else (self.num_layers * D, batch,
                                                                              self.hidden_size)
        if not isinstance(h, Tensor) or tuple(h.shape) != expect:
            got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {expect} "
                             f"(num_layers * num_directions, N, hidden_size), got {got}")
        return h.unsqueeze(1) if unbatched else h

    def forward(self, input, hx=None):
        """input (L, N, H_in), or (N, L, H_in) with batch_first, or unbatched (L, H_in); hx (layers*dirs, N, H)
        (a pair (h_0, c_0) for LSTM) or None (zeros) -> (output (L, N, dirs*H), h_n (layers*dirs, N, H))."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__} (PackedSequence is not "
                            "supported)")
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (L, N, {self.input_size}) "
                             f"({'(N, L, ...)' if self.batch_first else 'batch_first=False'}) or unbatched "
                             f"(L, {self.input_size}), got {tuple(input.shape)}")
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        L, N = x.shape[0], x.shape[1]
        lstm = self.mode == "LSTM"
        D = 2 if self.bidirectional else 1
        if hx is None:
            h0 = c0 = None
        elif lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError(f"{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            h0 = self._check_hidden(hx[0], N, unbatched, "h_0")
            c0 = self._check_hidden(hx[1], N, unbatched, "c_0")
        else:
            h0, c0 = self._check_hidden(hx, N, unbatched, "hx"), None
        step = _STEPS[self.mode]
        zeros = None
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(D):
                w_ih, w_hh, b_ih, b_hh = self._layer_weights(layer, direction)
                k = layer * D + direction
                if h0 is None:
                    if zeros is None:
                        zeros = Tensor._leaf(np.zeros((N, self.hidden_size), x.dtype))
                    h = zeros
                else:
                    h = h0[k]
                state = (h, zeros if c0 is None else c0[k]) if lstm else h
                xw = F.linear(x, w_ih, b_ih)                   # (L, N, G*H): every step's input product at once
                seq = [None] * L
                for t in (range(L - 1, -1, -1) if direction else range(L)):
                    state = step(xw[t], state, w_hh, b_hh)
                    seq[t] = state[0] if lstm else state
                outs.append(stack(seq, 0))                     # (L, N, H)
                h_n.append(state[0] if lstm else state)
                if lstm:
                    c_n.append(state[1])
            x = outs[0] if D == 1 else cat(outs, -1)           # (L, N, D*H)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        out = x.squeeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        hn = stack(h_n, 0)
        hn = hn.squeeze(1) if unbatched else hn
        if lstm:
            cn = stack(c_n, 0)
            return out, (hn, cn.squeeze(1) if unbatched else cn)
        return out, hn

    def extra_repr(self):
        """As PyTorch prints it."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0,
    bidirectional=False): h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu). See RNNBase.forward."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)


class LSTM(RNNBase):
    """LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False).
    forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n)). Gates i, f, g, o in that order, as PyTorch."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False).
    Gates r, z, n in that order, as PyTorch."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


# ---------------------------------------------------------------------- single cells
class _CellBase(Module):
    _mode = None

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, mode=None):
        super().__init__()
        if mode is not None:
            self._mode = mode
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        G, H = _GATES[self._mode], self.hidden_size
        _params(self, [(G * H, self.input_size), (G * H, H)], dtype, ["weight_ih", "weight_hh"])
        if bias:
            _params(self, [(G * H,), (G * H,)], dtype, ["bias_ih", "bias_hh"])
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        _uniform_all(self)

    def _prepare(self, input, hx, n_states):
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{name}: expected input of shape (N, {self.input_size}) or ({self.input_size},), "
                             f"got {got}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        N = x.shape[0]
        if hx is None:
            z = Tensor._leaf(np.zeros((N, self.hidden_size), x.dtype))
            states = [z] * n_states
        else:
            states = list(hx) if n_states == 2 else [hx]
            for i, s in enumerate(states):
                expect = (self.hidden_size,) if unbatched else (N, self.hidden_size)
                if not isinstance(s, Tensor) or tuple(s.shape) != expect:
                    got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                    raise ValueError(f"{name}: expected hidden state {i} of shape {expect}, got {got}")
            states = [s.unsqueeze(0) if unbatched else s for s in states]
        return x, states, unbatched

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh'): input (N, H_in), hx (N, H) -> h' (N, H)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, device, dtype,
                         mode="RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU")
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        """input (N, H_in) or (H_in,), hx (N, H) or None -> h' (N, H)."""
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h = _STEPS[self._mode](F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    """LSTMCell(input_size, hidden_size, bias=True): input (N, H_in), (h, c) -> (h', c')."""
    _mode = "LSTM"

    def forward(self, input, hx=None):
        """input (N, H_in) or (H_in,), hx (h, c) each (N, H), or None -> (h', c')."""
        x, (h, c), unbatched = self._prepare(input, hx, 2)
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), (h, c), self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """GRUCell(input_size, hidden_size, bias=True): input (N, H_in), hx (N, H) -> h' (N, H)."""
    _mode = "GRU"

    def forward(self, input, hx=None):
        """input (N, H_in) or (H_in,), hx (N, H) or None -> h' (N, H)."""
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h
