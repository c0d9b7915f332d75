"""The engine stands alone: importing any module of `tinygrad_lite` imports neither the models,
the pictures nor the application."""
import pkgutil
import subprocess
import sys

import tinygrad_lite

ENGINE_MODULES = sorted(m.name for m in pkgutil.walk_packages(tinygrad_lite.__path__, "tinygrad_lite."))


def test_engine_module_list_is_not_empty():
    assert "tinygrad_lite.tensor" in ENGINE_MODULES and "tinygrad_lite.nn.functional" in ENGINE_MODULES


def test_importing_the_engine_imports_no_application_models_or_viz():
    code = ("import sys, importlib\n"
            f"for m in {ENGINE_MODULES!r}:\n"
            "    importlib.import_module(m)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('models', 'viz', 'tinygrad_lite_app'))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"the engine imported: {out.stdout.strip()}"
