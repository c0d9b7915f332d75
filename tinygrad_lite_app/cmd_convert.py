"""`tinygrad-lite convert IN OUT`: move weights between our checkpoints, plain PyTorch state_dict
files and safetensors, so that a model trained here loads in anyone's PyTorch code, and back.

Formats (OUT's format comes from its extension, or from --to):
  tinygrad_lite  our checkpoint (tinygrad_lite.save: .npz inside; ckpt.pt, checkpoint.tgl, *.npz)
  torch          a plain state_dict: torch.save({name: tensor}) of tensors only (.pt, .pth, .bin),
                 loadable with torch.load(path, weights_only=True) and model.load_state_dict(...)
  safetensors    {name: tensor} in a .safetensors file (needs `pip install safetensors`)

The weights are the model's state_dict (our checkpoint's "model" entry; for checkpoints without
one, such as skip-gram's, every array at the top level). Everything else a checkpoint holds (the
GPT's config and vocabulary, the MLP's sizes...) is JSON: safetensors keeps it in its metadata,
a .pt file gets it in a sidecar JSON file beside it (OUT + ".json", e.g. model.pt.json; a .pt
holds tensors only). Converting back to our format reads it from there, so the round trip gives a
checkpoint that `sample`/`similar` load.
The input format is detected from the file's content.
"""
import json
import os
import sys
import zipfile

import numpy as np

FORMATS = ("tinygrad_lite", "torch", "safetensors")
EXTENSIONS = {".safetensors": "safetensors", ".pt": "torch", ".pth": "torch", ".bin": "torch",
              ".tgl": "tinygrad_lite", ".npz": "tinygrad_lite", ".ckpt": "tinygrad_lite"}
META_KEY = "tinygrad_lite"        # safetensors metadata key / sidecar content: the non-tensor rest
ORDER_KEY = "tinygrad_lite.order"  # safetensors metadata key: the state_dict's names in order


class ConvertError(ValueError):
    """A file cannot be converted (unknown format, not a state_dict, missing dependency)."""


def add_parser(sub):
    c = sub.add_parser("convert", help="convert weights: our checkpoint <-> PyTorch state_dict .pt <-> safetensors",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=_raw_formatter(),
                       epilog="examples:\n"
                              "  tinygrad-lite convert out/gpt/ckpt.pt gpt_state.pt            for torch.load(weights_only=True)\n"
                              "  tinygrad-lite convert out/gpt/ckpt.pt gpt.safetensors\n"
                              "  tinygrad-lite convert gpt.safetensors back.tgl                 our checkpoint again\n"
                              "  tinygrad-lite convert gpt_state.pt out2/ckpt.pt --to tinygrad_lite")
    c.add_argument("input", metavar="IN", help="file to read (format detected from its content)")
    c.add_argument("output", metavar="OUT", help="file to write (format from its extension, or --to)")
    c.add_argument("--to", choices=FORMATS, default=None,
                   help="format of OUT (needed when its extension does not say, e.g. our ckpt.pt)")
    c.add_argument("--meta", default=None, metavar="JSON",
                   help="reading a .pt: the JSON sidecar with the rest of the checkpoint (default: IN + .json, e.g. model.pt.json, if it exists)")
    c.set_defaults(func=run)
    return c


def _raw_formatter():
    import argparse
    return argparse.RawDescriptionHelpFormatter


def run(args):
    fmt_out = args.to or EXTENSIONS.get(os.path.splitext(args.output)[1].lower())
    if fmt_out is None:
        raise ConvertError(f"cannot tell the format of {args.output!r} from its extension; add --to "
                           f"{{{','.join(FORMATS)}}} (extensions: {', '.join(sorted(EXTENSIONS))})")
    fmt_in = detect(args.input)
    weights, meta = read(args.input, fmt_in, args.meta)
    write(args.output, fmt_out, weights, meta)
    n = sum(int(np.prod(a.shape)) for a in weights.values())
    extra = f" (+ {_sidecar(args.output)})" if fmt_out == "torch" and meta is not None else ""
    print(f"wrote {args.output}{extra}: {fmt_in} -> {fmt_out}, {len(weights)} tensors, {n:,} numbers", file=sys.stderr)
    return 0


def detect(path):
    """'tinygrad_lite', 'safetensors' or 'torch', from the file's first bytes."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    from tinygrad_lite.serialize import META_KEY as OURS
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if f"{OURS}.npy" in names:
            return "tinygrad_lite"
        if any(n.endswith("data.pkl") for n in names):
            return "torch"
        raise ConvertError(f"{path} is a zip archive but neither our checkpoint nor a torch.save file")
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < os.path.getsize(path):
        return "safetensors"
    raise ConvertError(f"{path}: unknown format (expected our checkpoint, a torch.save state_dict or safetensors)")


# --------------------------------------------------------------------------------------------- reading
def read(path, fmt, meta_path=None):
    """-> (weights {name: numpy array}, meta: the checkpoint's non-tensor rest as a dict, or None)."""
    if fmt == "tinygrad_lite":
        return _read_ours(path)
    if fmt == "safetensors":
        sf = _safetensors()
        weights = sf.numpy.load_file(path)
        with sf.safe_open(path, framework="np") as f:
            md = f.metadata() or {}
        order = json.loads(md.get(ORDER_KEY, "[]"))      # safetensors sorts the names; keep the model's order
        if sorted(order) == sorted(weights):
            weights = {k: weights[k] for k in order}
        return weights, json.loads(md[META_KEY]) if META_KEY in md else None
    torch = _torch()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  (torch raises UnpicklingError, RuntimeError...)
        raise ConvertError(f"{path}: torch.load(weights_only=True) refused it: {str(e).splitlines()[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        kinds = sorted({type(v).__name__ for v in state.values()}) if isinstance(state, dict) else [type(state).__name__]
        raise ConvertError(f"{path} is not a plain state_dict {{name: tensor}} (found {', '.join(kinds)}); save "
                           "model.state_dict() alone with torch.save")
    weights = {k: v.detach().cpu().numpy() for k, v in state.items()}
    meta_path = meta_path or (_sidecar(path) if os.path.exists(_sidecar(path)) else None)
    meta = None
    if meta_path:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f).get(META_KEY)
    return weights, meta


def _read_ours(path):
    import tinygrad_lite as tg
    obj = tg.load(path)
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: expected a checkpoint dict, got {type(obj).__name__}")
    model = obj.get("model")
    if isinstance(model, dict) and model and all(_is_array(v) for v in model.values()):
        weights = {k: _array(v) for k, v in model.items()}
        rest, state_key = {k: v for k, v in obj.items() if k != "model"}, "model"
    else:
        weights = {k: _array(v) for k, v in obj.items() if _is_array(v)}
        rest, state_key = {k: v for k, v in obj.items() if not _is_array(v)}, None
    if not weights:
        raise ConvertError(f"{path} holds no tensors to convert")
    try:
        json.dumps(rest)
    except TypeError as e:
        raise ConvertError(f"{path}: the non-tensor part of the checkpoint is not plain JSON data ({e})") from None
    return weights, {"state_key": state_key, "rest": rest}


def _is_array(v):
    import tinygrad_lite as tg
    return isinstance(v, (tg.Tensor, np.ndarray))


def _array(v):
    return np.ascontiguousarray(v.detach().numpy() if hasattr(v, "detach") else v)


# --------------------------------------------------------------------------------------------- writing
def write(path, fmt, weights, meta):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    if fmt == "tinygrad_lite":
        import tinygrad_lite as tg
        tensors = {k: tg.Tensor(a) for k, a in weights.items()}
        if meta is None:
            print("convert: no metadata (config, vocabulary) came with the weights: the checkpoint holds the "
                  "state_dict only, under 'model'; give --meta JSON to add the rest", file=sys.stderr)
            obj = {"model": tensors}
        elif meta.get("state_key"):
            obj = {meta["state_key"]: tensors, **meta["rest"]}
        else:
            obj = {**tensors, **meta["rest"]}
        tg.save(obj, path)
    elif fmt == "safetensors":
        md = {ORDER_KEY: json.dumps(list(weights))}
        if meta is not None:
            md[META_KEY] = json.dumps(meta)
        _safetensors().numpy.save_file({k: np.ascontiguousarray(a) for k, a in weights.items()}, path, metadata=md)
    else:
        torch = _torch()
        torch.save({k: torch.from_numpy(np.array(a)) for k, a in weights.items()}, path)
        if meta is not None:
            with open(_sidecar(path), "w", encoding="utf-8") as f:
                json.dump({META_KEY: meta}, f, indent=1)


def _sidecar(path):
    return path + ".json"


def _torch():
    try:
        import torch
    except ImportError:
        raise ConvertError("reading or writing a PyTorch .pt file needs PyTorch: pip install 'tinygrad-lite[torch]'") \
            from None
    return torch


def _safetensors():
    try:
        import safetensors
        import safetensors.numpy  # noqa: F401
    except ImportError:
        raise ConvertError("safetensors files need the safetensors package: pip install safetensors") from None
    return safetensors
