"""A checkpoint save killed mid-write (a real process, SIGKILL and Ctrl-C) leaves the previous
checkpoint intact and loadable."""
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinygrad_lite as tl

CHILD = textwrap.dedent('''
    import sys, time
    import numpy as np
    import tinygrad_lite as tl
    from tinygrad_lite import serialize

    real = serialize._write

    def slow_write(f, members):        # write the first part for real, then stall mid-file
        f.write(b"PK\\x03\\x04" + b"\\0" * (1 << 20))
        f.flush()
        print("MIDWRITE", flush=True)
        time.sleep(120)
        real(f, members)

    serialize._write = slow_write
    tl.save({"step": 2, "w": tl.Tensor(np.full((256, 256), 2.0, np.float32))}, sys.argv[1])
''')


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killing_a_save_mid_write_keeps_the_previous_checkpoint(tmp_path, sig):
    path = tmp_path / "ckpt.tgl"
    tl.save({"step": 1, "w": tl.Tensor(np.full((256, 256), 1.0, np.float32))}, path)
    good = path.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "MIDWRITE"
        child.send_signal(sig)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    assert path.read_bytes() == good
    ck = tl.load(path)
    assert ck["step"] == 1 and float(ck["w"].numpy()[0, 0]) == 1.0
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "ckpt.tgl")
    if sig == signal.SIGINT:      # Ctrl-C runs the clean-up: no temporary file is left behind
        assert leftovers == []
    else:                         # SIGKILL cannot clean up: at most the hidden temporary file remains
        assert all(n.startswith(".ckpt.tgl.") and n.endswith(".tmp") for n in leftovers)
