"""Many processes with torch.distributed, for the models' training loops (torch backend only).

DistributedDataParallel (DDP) does the work: every process (a *rank*) holds a copy of the model,
computes the gradients of its own shard of the batch, and DDP all-reduces (averages) the
gradients during backward, so every copy takes the same optimizer step. Nothing here averages
gradients by hand.

Two ways to start the processes, with the same training script:

* `--nproc N` (`launch`): the command starts N copies of itself on this machine, each with the
  environment torchrun would give it, watches them, and stops all of them with a clear error as
  soon as one fails or is killed.
* `torchrun --nproc_per_node N [--nnodes M --rdzv-endpoint HOST:PORT] -m models.gpt ...`:
  torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `init_from_env` reads
  them. This is also the way across machines.

The process group uses gloo on CPU and NCCL on CUDA, with a timeout (`--dist-timeout`), so a
rank whose peer died stops with an error instead of waiting for ever.
"""
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class Dist:
    """This process's place in the group: rank, world_size, local_rank. A single process is
    Dist(0, 1, 0) (`SINGLE`): every method is then a no-op."""

    def __init__(self, rank=0, world_size=1, local_rank=0, torch=None):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self._torch = torch

    @property
    def is_main(self):
        """True on rank 0, the only rank that writes checkpoints, metrics and progress."""
        return self.rank == 0

    @property
    def active(self):
        return self.world_size > 1

    def shard(self, *arrays):
        """This rank's rows of a global batch: rows [r*B/W, (r+1)*B/W) of each array (B rows)."""
        if not self.active:
            return arrays if len(arrays) > 1 else arrays[0]
        B = arrays[0].shape[0]
        if B % self.world_size:
            raise ValueError(f"the global batch of {B} rows does not split evenly over {self.world_size} "
                             f"processes; use a --batch-size that is a multiple of {self.world_size}")
        n = B // self.world_size
        out = tuple(a[self.rank * n:(self.rank + 1) * n] for a in arrays)
        return out if len(out) > 1 else out[0]

    def wrap(self, model):
        """The model in DistributedDataParallel (the model itself for a single process)."""
        if not self.active:
            return model
        DDP = self._torch.nn.parallel.DistributedDataParallel
        params = list(model.parameters())
        on_cuda = bool(params) and params[0].is_cuda
        return DDP(model, device_ids=[self.local_rank] if on_cuda else None)

    def mean(self, value):
        """The mean of a float over the ranks (one small all-reduce), for logging the global loss."""
        if not self.active:
            return value
        torch = self._torch
        dev = f"cuda:{self.local_rank}" if torch.distributed.get_backend() == "nccl" else "cpu"
        t = torch.tensor([float(value)], dtype=torch.float64, device=dev)
        torch.distributed.all_reduce(t)
        return float(t.item()) / self.world_size

    def close(self):
        """Leave the group together: a barrier first, so no rank tears down its gloo connections while
        another (rank 0, still writing checkpoints and samples) holds them; leaving early made a worker
        abort at exit ('terminate called without an active exception') now and then."""
        if self.active and self._torch.distributed.is_initialized():
            import gc
            gc.collect()                  # DDP wrappers sit in reference cycles: free them while the group lives
            try:
                self._torch.distributed.barrier()
            except RuntimeError:
                pass                      # a peer is gone already: nothing to wait for
            self._torch.distributed.destroy_process_group()


SINGLE = Dist()


def in_worker():
    """True when this process was started by `launch` or torchrun (RANK and WORLD_SIZE are set)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_from_env(bk, timeout=300.0):
    """Join the process group described by RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT
    (gloo on CPU, NCCL on CUDA, `timeout` seconds for every collective) -> Dist.
    Without those variables: SINGLE."""
    if not in_worker() or int(os.environ["WORLD_SIZE"]) <= 1:
        return SINGLE
    if bk.name != "torch":
        raise SystemExit("error: several processes (--nproc, torchrun) need --backend torch: "
                         "tinygrad_lite has no torch.distributed")
    torch = bk.torch
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if bk.device == "cuda":
        torch.cuda.set_device(local)
    torch.distributed.init_process_group("nccl" if bk.device == "cuda" else "gloo", rank=rank, world_size=world,
                                         timeout=timedelta(seconds=timeout))
    return Dist(rank, world, local, torch)


def collective_error(e, dist, timeout):
    """A SystemExit that says what a failed collective (a peer died or hung) means."""
    return SystemExit(f"error: rank {dist.rank} of {dist.world_size}: a collective operation failed, most likely "
                      f"because another worker died or stopped answering (process-group timeout {timeout:g} s); "
                      f"the run stops. ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")


def add_args(group):
    """--nproc and --dist-timeout, for a command line's backend argument group."""
    group.add_argument("--nproc", type=_int_at_least_1, default=1,
                       help="training processes on this machine (--backend torch; DistributedDataParallel, gloo on "
                            "CPU, NCCL on CUDA); --batch-size is the global batch, split over them")
    group.add_argument("--dist-timeout", type=float, default=300.0,
                       help="seconds a process waits for the others in a collective before the run stops with an "
                            "error")


def _int_at_least_1(text):
    from models.argtypes import int_at_least
    return int_at_least(1)(text)


def check_args(parser, args):
    """Usage errors for --nproc: it needs the torch backend, and a positive --dist-timeout."""
    if args.nproc > 1 and args.backend != "torch":
        parser.error("--nproc > 1 needs --backend torch (torch.distributed runs the processes)")
    if not args.dist_timeout > 0:
        parser.error(f"--dist-timeout must be > 0 seconds, got {args.dist_timeout}")


def launch_if_asked(args, module, argv):
    """In the command a user typed with --nproc N > 1: start N workers of `python -m module argv`
    (see `launch`), wait, and return rank 0's metrics.json (read from --out; {'nproc': N} without
    --out). In a worker, or with --nproc 1: None (the caller trains)."""
    if args.nproc <= 1 or in_worker():
        return None
    from models.backend import backend_from_args
    backend_from_args(args)                        # fail here, not in N processes, if torch or the GPU is missing
    launch(["-m", module, *(argv if argv is not None else sys.argv[1:])], args.nproc)
    path = os.path.join(args.out, "metrics.json") if getattr(args, "out", None) else None
    if path and os.path.exists(path):
        import json
        with open(path) as f:
            return json.load(f)
    return {"nproc": args.nproc}


def run_command(parser, args, argv, module, run, user_errors=(OSError, ValueError)):
    """The body of a model's command line (`module` is e.g. "models.mlp"): the --nproc usage checks, N
    workers when asked (rank 0's metrics returned), else run(args, bk, dist) here with --threads BLAS
    threads. A user's mistake (one of `user_errors` raised on behalf of the user: a bad file, bad
    sizes) becomes `module: error: ...`; anything else is a bug of ours and keeps its traceback."""
    from .backend import backend_from_args
    from .guard import user_error
    from .progress import limit_blas_threads
    check_args(parser, args)
    launched = launch_if_asked(args, module, argv)   # --nproc N: N workers run the same command
    if launched is not None:
        return launched
    try:
        with limit_blas_threads(args.threads):
            bk = backend_from_args(args)
            return run_worker(args, bk, lambda dist: run(args, bk, dist))
    except user_errors as e:
        if not user_error(e):
            raise
        raise SystemExit(f"{module}: error: {e}") from e


def run_worker(args, bk, train_fn):
    """Join the process group (if any), run train_fn(dist), leave the group. A failed collective
    (a peer died, the timeout passed) becomes a clear SystemExit instead of a traceback."""
    dist = init_from_env(bk, args.dist_timeout)
    try:
        return train_fn(dist)
    except RuntimeError as e:  # torch.distributed's errors (DistBackendError, timeouts) are RuntimeErrors
        if dist.active:
            raise collective_error(e, dist, args.dist_timeout) from None
        raise
    finally:
        dist.close()


def main_and_exit(main):
    """Run a model's command line as its `python -m` entry point. In a worker (started by `launch` or
    torchrun) that finished, leave with os._exit(0) after flushing: at interpreter exit, torch's C++
    process-group and DDP objects are torn down in an order that now and then aborts the process
    ("terminate called without an active exception", SIGABRT) after the run's work is done, which
    `launch` would report as a failed worker. Errors still raise (and exit non-zero) as usual."""
    main()
    if in_worker() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(python_args, nproc, poll=0.1):
    """Run `python *python_args` (e.g. ["-m", "models.gpt", ...]) in `nproc` processes on this
    machine (ranks 0..nproc-1, with the environment torchrun would set) and wait for them. If one
    fails or is killed, the others are stopped and SystemExit says which rank failed and how.
    Returns when all exited with status 0."""
    port = _free_port()
    procs = []
    for rank in range(nproc):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(nproc), LOCAL_RANK=str(rank),
                   LOCAL_WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, *python_args], env=env))
    failed = None
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = next(((r, c) for r, c in enumerate(codes) if c not in (None, 0)), None)
            if failed or all(c == 0 for c in codes):
                break
            time.sleep(poll)
    finally:
        _stop(procs)
    if failed:
        rank, code = failed
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        raise SystemExit(f"error: worker rank {rank} of {nproc} {how}; stopped the other workers")


def _stop(procs, grace=5.0):
    alive = [p for p in procs if p.poll() is None]
    for p in alive:
        p.terminate()
    end = time.monotonic() + grace
    for p in alive:
        try:
            p.wait(max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
