#!/usr/bin/env bash
# Builds the python-hello component from source with componentize-py:
#
#     plugins/python-hello/build.sh [OUT.wasm]    # default: plugins/target/python-hello/python_hello.wasm
#
# componentize-py is pinned, and taken from `python3` (where `python3 -m pip install` put it, whether
# or not its script is on PATH); install it with the command below (.ci/run does).
set -euo pipefail
VERSION=0.25.1
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../target/python-hello/python_hello.wasm}"
install="python3 -m pip install \"componentize-py==$VERSION\""
found="$(python3 -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true)"
if [ -z "$found" ]; then
  echo "python-hello: componentize-py is not installed for python3; run: $install" >&2
  exit 2
fi
if [ "$found" != "$VERSION" ]; then
  echo "python-hello: componentize-py $found is installed, this plugin is built with $VERSION; run: $install" >&2
  exit 2
fi
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
cd "$here"
# The world `python-hello` (wit/world.wit) narrows the platform's `plugin` world to the one
# capability this plugin uses; the platform's WIT package comes from the repository's wit/0.1.0.
python3 -c 'import sys; from componentize_py import script; sys.argv[0] = "componentize-py"; sys.exit(script())' \
  --quiet -d ../../wit/0.1.0 -d wit -w crm-plugins:python-hello/python-hello \
  componentize app -o "$out"
echo "$out"
