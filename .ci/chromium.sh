#!/usr/bin/env bash
# Make sure Debian's headless Chromium and its driver are there for the browser tests (the
# connectathon web app driven with Selenium); sourced by .ci/run. Installs the packages
# chromium and chromium-driver only when /usr/bin/chromium or /usr/bin/chromedriver is missing
# (KCERT_CHROMIUM / KCERT_CHROMEDRIVER name other binaries), bounded in time
# (KCERT_APT_TIMEOUT seconds per apt-get call, default 600).
# Sets KCERT_CHROMIUM and KCERT_CHROMEDRIVER (the binaries the tests use) and
# KCERT_SCREENSHOTS (where the browser tests keep their screenshots: CI artefacts; default
# reports/screenshots).
set -euo pipefail

CHROMIUM_BIN=${KCERT_CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER_BIN=${KCERT_CHROMEDRIVER:-/usr/bin/chromedriver}
APT_TIMEOUT=${KCERT_APT_TIMEOUT:-600}

chromium_as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

chromium_apt() {
  # one apt-get call, bounded; a hung mirror or lock ends with a message, not a stuck CI job
  if ! chromium_as_root timeout "$APT_TIMEOUT" env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=60 "$@"; then
    echo "ci: could not install Chromium: 'apt-get $*' failed or took over ${APT_TIMEOUT} s;" \
      "install the Debian packages chromium and chromium-driver by hand" >&2
    return 1
  fi
}

if [ ! -x "$CHROMIUM_BIN" ] || [ ! -x "$CHROMEDRIVER_BIN" ]; then
  echo "ci: installing Chromium (Debian packages chromium, chromium-driver)"
  chromium_apt update -qq
  chromium_apt install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  for bin in "$CHROMIUM_BIN" "$CHROMEDRIVER_BIN"; do
    if [ ! -x "$bin" ]; then
      echo "ci: Chromium installed, but $bin is missing" >&2
      return 1 2>/dev/null || exit 1
    fi
  done
fi

export KCERT_CHROMIUM="$CHROMIUM_BIN"
export KCERT_CHROMEDRIVER="$CHROMEDRIVER_BIN"
export KCERT_SCREENSHOTS="${KCERT_SCREENSHOTS:-$PWD/reports/screenshots}"
mkdir -p "$KCERT_SCREENSHOTS"
echo "ci: $("$CHROMIUM_BIN" --version 2>/dev/null | head -n 1 || echo chromium), screenshots in $KCERT_SCREENSHOTS"
