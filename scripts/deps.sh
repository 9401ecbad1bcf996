#!/usr/bin/env bash
# Installs the Debian packages nimbus needs to build and test, when missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
PKGS=(build-essential pkg-config clang libuv1-dev node-llhttp libjson-c-dev libsqlite3-dev
      libssl-dev libminizip-dev zlib1g-dev libyaml-dev nodejs python3-boto3 python3-pytest python3-cryptography awscli
      openjdk-17-jdk-headless libjackson2-databind-java)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  $cmd
else
  echo "deps: missing packages; run:  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
