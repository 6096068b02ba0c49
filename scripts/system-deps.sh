#!/usr/bin/env bash
# System packages the test suite needs: Debian's Chromium for the dashboard browser test.
# Installed once (root on these machines); a machine without apt or root skips, and the browser
# test then skips with its reason.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing chromium (browser test)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
    >/tmp/nas-apt.log 2>&1 || echo "    chromium install failed (see /tmp/nas-apt.log); browser test will skip"
else
  echo "    chromium not found and cannot install it here; the browser test will skip"
fi
exit 0
