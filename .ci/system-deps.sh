#!/usr/bin/env bash
# Installs the Debian packages the tests exercise (PostgreSQL server, headless Chromium, libfaketime
# for a standby whose clock runs ahead, fallback fonts for cards, Dovecot's IMAP server for the
# bounce mailbox) when absent.
set -euo pipefail
packages=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
command -v chromium >/dev/null 2>&1 || packages+=(chromium fonts-liberation)
{ command -v dovecot >/dev/null 2>&1 && [ -x /usr/lib/dovecot/imap ]; } || packages+=(dovecot-imapd)
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || packages+=(libfaketime)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || packages+=(fonts-noto-color-emoji)
[ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || packages+=(fonts-droid-fallback)
if [ ${#packages[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
