"""Write a starting checkpoint of nanoGPT's or makemore's model whose weights come from numpy (seeded,
one draw per state-dict entry in sorted name order), so PyTorch and tinygrad_lite start from the same
numbers. Run the same file under both (each saves in its own format):

    python init_weights.py nanogpt OUT_DIR DATA_DIR n_layer n_head n_embd block_size bias
    python init_weights.py makemore WORK_DIR NAMES_FILE n_layer n_head n_embd n_embd2 type
"""
import os
import sys

import numpy as np
import torch

kind, out = sys.argv[1], sys.argv[2]



from oracle_stubs import tensorboard_stub  # noqa: E402  (this folder is sys.path[0])

tensorboard_stub()
torch.set_default_dtype(torch.float64 if os.environ.get("COMPAT_DTYPE") == "float64" else torch.float32)


def fill(model):
    rs = np.random.RandomState(7)
    sd = model.state_dict()
    with torch.no_grad():
        for name in sorted(sd):
            t = sd[name]
            if name.endswith(".bias") and t.dim() == 4:  # a causal-mask buffer, not a weight
                continue
            scale = 1.0 if "ln" in name and name.endswith("weight") else 0.2
            base = 1.0 if scale == 1.0 else 0.0
            t.copy_(torch.from_numpy(base + scale * rs.standard_normal(tuple(t.shape))))


if kind == "nanogpt":
    data_dir, n_layer, n_head, n_embd, block_size, bias = sys.argv[3:9]
    sys.path.insert(0, os.environ["NANOGPT_DIR"])
    import pickle
    from model import GPT, GPTConfig
    with open(os.path.join(data_dir, "meta.pkl"), "rb") as f:
        vocab_size = pickle.load(f)["vocab_size"]
    model_args = dict(n_layer=int(n_layer), n_head=int(n_head), n_embd=int(n_embd), block_size=int(block_size),
                      bias=bias == "True", vocab_size=vocab_size, dropout=0.0)
    model = GPT(GPTConfig(**model_args))
    fill(model)
    optimizer = model.configure_optimizers(0.1, 1e-2, (0.9, 0.95), "cpu")
    os.makedirs(out, exist_ok=True)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "model_args": model_args,
                "iter_num": 0, "best_val_loss": 1e9, "config": {"dataset": data_dir}}, os.path.join(out, "ckpt.pt"))
else:
    names, n_layer, n_head, n_embd, n_embd2, mtype = sys.argv[3:9]
    sys.path.insert(0, os.environ["MAKEMORE_DIR"])
    import makemore as mm
    words = [w.strip() for w in open(names).read().splitlines() if w.strip()]
    chars = sorted(set("".join(words)))
    config = mm.ModelConfig(vocab_size=len(chars) + 1, block_size=max(len(w) for w in words) + 1,
                            n_layer=int(n_layer), n_head=int(n_head), n_embd=int(n_embd), n_embd2=int(n_embd2))
    model = {"transformer": mm.Transformer, "bigram": mm.Bigram, "mlp": mm.MLP, "bow": mm.BoW}.get(mtype)
    model = model(config) if model else mm.RNN(config, cell_type=mtype)
    fill(model)
    os.makedirs(out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out, "model.pt"))
