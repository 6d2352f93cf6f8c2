#!/usr/bin/env bash
# Makes this checkout ready to run its notebooks headless: npm packages, the compiled lib, a
# Python with Jupyter's notebook client, the tslab kernel spec and (with --for-tests) Chromium.
# Installs what it can (npm; apt as root on Debian; pip where PyPI answers) and otherwise stops
# with one message naming the exact command to run. Idempotent and quick when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf '\nsetup: %s\n\n' "$*" >&2; exit 1; }

# --- Node -----------------------------------------------------------------------------------
node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=19)?1:0)')
[ "$node_ok" = 1 ] || die "Node.js $(node --version) is too old: the kit needs Node.js 20.19 or newer (https://nodejs.org, or 'nvm install 20')."

# --- npm packages (re-installed when package.json or the lock file changed) -----------------
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "installing npm packages (npm install)"
  npm install --no-audit --no-fund >&2 || die "npm install failed (see above). Check the network to the npm registry, then run: npm install"
fi

# --- the lib, compiled for the kernel (tslab does not compile TypeScript inside node_modules) --
if [ ! -f lib/dist/index.js ] || [ -n "$(find lib -name '*.ts' -not -path 'lib/dist/*' -newer lib/dist/index.js -print -quit)" ]; then
  say "compiling lib/ (tsc -p lib)"
  npx tsc -p lib >&2 || die "lib/ does not compile (errors above): fix them, then run: npx tsc -p lib"
fi

# --- Python with Jupyter's notebook client ----------------------------------------------------
has_nbclient() { "$1" -c 'import nbclient, nbformat, jupyter_client' 2>/dev/null; }
find_python() {
  for p in "${KIT_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && has_nbclient "$p" && { command -v "$p"; return 0; }
  done
  return 1
}
python=$(find_python || true)
if [ -z "$python" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Jupyter's notebook client from Debian (apt-get install python3-nbclient)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-nbclient python3-nbformat python3-jupyter-client >&2 || true
  elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    say "installing Jupyter's notebook client with pip (pip install --user nbclient)"
    python3 -m pip install --user --quiet nbclient nbformat jupyter_client >&2 || true
  fi
  python=$(find_python || true)
  [ -n "$python" ] || die "Jupyter's notebook client is missing. Install it with
    sudo apt-get install -y python3-nbclient      (Debian/Ubuntu)
 or pip install nbclient nbformat jupyter_client   (any Python 3)
then run this command again (or point KIT_PYTHON at a Python that has nbclient)."
fi

# --- the tslab kernel spec --------------------------------------------------------------------
# Written fresh every time with this checkout's absolute path, so moving the folder is harmless.
write_spec() {
  mkdir -p "$1/kernels/tslab"
  cat > "$1/kernels/tslab/kernel.json" <<JSON
{
  "argv": ["$root/node_modules/.bin/tslab", "kernel", "--config-path", "{connection_file}"],
  "display_name": "TypeScript (tslab, attention kit)",
  "language": "typescript"
}
JSON
}
write_spec "$root/.kit/jupyter"   # what the handout builder and tests use (JUPYTER_PATH)
# ...and for JupyterLab / Notebook, in the user's Jupyter data folder.
user_dir=$("$python" -c 'from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())' 2>/dev/null || true)
[ -n "$user_dir" ] && write_spec "$user_dir" 2>/dev/null || true

# --- Chromium, for the tests that open the handouts ------------------------------------------
if [ "$for_tests" = 1 ] && ! command -v "${KIT_CHROMIUM:-chromium}" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium from Debian (apt-get install chromium)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2 || true
  fi
  command -v "${KIT_CHROMIUM:-chromium}" >/dev/null 2>&1 || die "Chromium is missing (the tests open the handouts in it). Install it with
    sudo apt-get install -y chromium      (Debian; Ubuntu: the chromium snap or google-chrome)
then run this command again, or set KIT_CHROMIUM to a Chromium/Chrome binary."
fi

mkdir -p .kit
printf '%s\n' "$python" > .kit/python
say "ready (python: $python, kernel spec: .kit/jupyter/kernels/tslab)"
