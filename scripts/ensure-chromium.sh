#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the real-browser tests, and that a
# colour emoji font is there (fonts-noto-color-emoji) so screenshots show the milestones' ✅/❌
# rather than empty boxes. Installs (apt-get) only what is missing.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
if ! { command -v dpkg-query >/dev/null && dpkg-query -W -f='${Status}' fonts-noto-color-emoji 2>/dev/null \
       | grep -q "install ok installed"; } && ! { command -v fc-list >/dev/null && fc-list | grep -qi "Noto Color Emoji"; }; then
  missing+=(fonts-noto-color-emoji)
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  echo "ensure-chromium: missing ${missing[*]} and this user cannot apt-get install it;" >&2
  echo "  install Debian's package(s) ${missing[*]}; without chromium the browser tests are skipped," >&2
  echo "  without the emoji font screenshots show empty boxes for ✅/❌." >&2
  exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "ensure-chromium: installing ${missing[*]} (apt-get)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
/usr/bin/chromium --version
