#!/usr/bin/env bash
# Debian's Chromium for mqscope's browser test (tests/test_browser.py: `--serve` in headless Chromium).
#
#   scripts/browser.sh install   apt-get install chromium when missing (exit 0 even if that fails, with
#                                a clear message, so the browser test skips; it fails under CI=true)
#   scripts/browser.sh path      print the Chromium binary the test uses (exit 1 when there is none)
#
# The test drives Chromium over its own DevTools protocol (a websocket), so no chromedriver is needed.
set -euo pipefail

say() { printf 'browser.sh: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n -E "$@"
  else return 1
  fi
}

chromium_path() {
  local candidate
  for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
  done
  if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; return 0; fi
  return 1
}

cmd_install() {
  if chromium_path >/dev/null; then
    say "chromium is already installed ($(chromium_path))"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "cannot install chromium: no apt-get here; the browser test will skip (fail under CI=true)"
    return 0
  fi
  say "installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  local ok=0 log
  log="$(mktemp "${TMPDIR:-/tmp}/mqscope-chromium-install.XXXXXX")"
  if as_root apt-get install -y -q chromium >"$log" 2>&1; then ok=1
  elif as_root apt-get update -q >>"$log" 2>&1 && as_root apt-get install -y -q chromium >>"$log" 2>&1; then ok=1
  fi
  if [ "$ok" = 1 ] && chromium_path >/dev/null; then
    say "chromium installed ($(chromium_path))"
  else
    tail -n 5 "$log" >&2 || true
    say "could not install chromium (no root, no network or no package); the browser test will skip (fail under CI=true)"
  fi
  rm -f "$log"
  return 0
}

case "${1:-}" in
  install) cmd_install ;;
  path) chromium_path ;;
  *) say "usage: scripts/browser.sh install|path"; exit 2 ;;
esac
