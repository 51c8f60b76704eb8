#!/usr/bin/env bash
# Set up tinygrad_ce on a fresh machine: Graphviz's `dot` program (for rendering graph
# diagrams) where the system package manager allows, then the package with the extras asked for.
#
#   bash scripts/setup.sh            # package + training extras (progress bars, plots)
#   bash scripts/setup.sh test       # everything the test suite needs (notebooks, hypothesis, ...)
#                                    # and headless Chromium for tests/test_browser.py
#
# Without root or apt-get the Graphviz step is skipped with a note: everything works except
# rendering pictures, which then raises an error that says how to install Graphviz. Likewise
# for Chromium: without it the browser tests are skipped, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-train}"

if ! command -v dot >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo_cmd=""; elif command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo -n"; else sudo_cmd="none"; fi
    if [ "$sudo_cmd" != none ]; then
      echo "setup: installing Graphviz (dot) with apt-get" >&2
      { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq graphviz; } >/dev/null 2>&1 \
        || echo "setup: apt-get could not install graphviz; diagrams will be DOT text only" >&2
    else
      echo "setup: no root: install Graphviz yourself (apt-get install graphviz) to render diagrams" >&2
    fi
  elif command -v brew >/dev/null 2>&1; then
    brew install graphviz >/dev/null || echo "setup: brew could not install graphviz" >&2
  else
    echo "setup: Graphviz's dot not found; install it from https://graphviz.org/download/ to render diagrams" >&2
  fi
fi

# the browser tests drive Debian's chromium through chromium-driver (selenium comes from PyPI)
if [ "$extra" = test ] && ! { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo_cmd=""; elif command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo -n"; else sudo_cmd="none"; fi
    if [ "$sudo_cmd" != none ]; then
      echo "setup: installing chromium and chromium-driver with apt-get (browser tests)" >&2
      { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 \
        || echo "setup: apt-get could not install chromium; tests/test_browser.py will be skipped" >&2
    else
      echo "setup: no root: apt-get install chromium chromium-driver to run the browser tests" >&2
    fi
  else
    echo "setup: chromium/chromedriver not found; the browser tests will be skipped" >&2
  fi
fi

python -m pip install --quiet --disable-pip-version-check -e ".[${extra}]"
