#!/bin/sh
# Install the Debian/Ubuntu packages the project needs, only if any is missing.
# Usage: system-packages.sh PYTHON [test]
#   test: also what the tests use: Chromium (the lesson page is tested in a
#   real browser) and espeak-ng (voice-over).
set -eu
python="${1:-python3}"
purpose="${2:-}"

# pycairo and manimpango compile against Cairo and Pango; DejaVu is the font
# the themes name, so frames look the same on every machine.
packages="build-essential pkg-config libcairo2-dev libpango1.0-dev fonts-dejavu-core"
if [ "$purpose" = "test" ]; then
    packages="$packages chromium espeak-ng"
fi
# A Debian system Python needs these to make a virtual environment and to
# compile extensions; a Python built elsewhere (pyenv) already has them.
if ! "$python" -c "import ensurepip" >/dev/null 2>&1; then
    packages="$packages python3-venv"
fi
if ! "$python" -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" >/dev/null 2>&1; then
    packages="$packages python3-dev"
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "note: not a Debian-like system; make sure these are installed: $packages" >&2
    exit 0
fi

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "Installing system packages:$missing"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
