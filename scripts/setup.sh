#!/usr/bin/env bash
# Installs everything the platform needs on a bare Debian machine, and nothing twice.
# Called by `make setup` (and so by every other make target). Each step checks first
# whether there is anything to do; a missing prerequisite gets one line saying what to do.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(prometheus prometheus-pushgateway prometheus-alertmanager docker-compose chromium)
PYTHON=${PYTHON:-python3.11}

die() { echo "setup: $*" >&2; exit 1; }
step() { echo "setup: $*" >&2; }

check_prerequisites() {
  command -v "$PYTHON" >/dev/null || die "Python 3.11 not found: install python3.11 (or set PYTHON=/path/to/python3.11)"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$PYTHON is not Python 3.11: install python3.11 (or set PYTHON=/path/to/python3.11)"
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "Python's venv module is missing: apt-get install python3.11-venv"
  command -v java >/dev/null || die "Java not found: install OpenJDK 17 or newer (apt-get install openjdk-17-jdk)"
  local java_major
  java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${java_major:-0}" -ge 17 ] || die "Java 17 or newer is needed, found Java ${java_major:-unknown}: install openjdk-17-jdk"
  command -v mvn >/dev/null || die "Maven not found: install it (apt-get install maven)"
}

install_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "Debian packages missing (${missing[*]}): run as root or install them: apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  step "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python() {
  local stamp=.venv/.installed
  if [ -f "$stamp" ] && [ "$stamp" -nt requirements.txt ] && [ "$stamp" -nt pyproject.toml ]; then return; fi
  step "creating .venv with the pinned requirements (a few minutes the first time)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  .venv/bin/pip install -q --no-deps -e .
  touch "$stamp"
}

install_jars() {
  local stamp=.jars/.installed
  if [ -f "$stamp" ] && [ -z "$(find jvm -name pom.xml -newer "$stamp")" ]; then return; fi
  step "fetching the JVM jars declared in jvm/pom.xml from Maven Central"
  rm -rf .jars
  mvn -q -B -f jvm/pom.xml package
  rm -rf jvm/target jvm/*/target
  touch "$stamp"
}

check_prerequisites
install_apt_packages
install_python
install_jars
