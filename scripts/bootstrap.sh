#!/usr/bin/env bash
# System packages the project needs (Debian/Ubuntu): FFmpeg, PostgreSQL, Redis, wrk, python3-venv,
# promtool (the tests check every process's /metrics and the alert rules with it), Node.js and npm
# (the pages' scripts are bundled with esbuild), and Chromium (the pages' tests drive it through
# Playwright, which is never allowed to download a browser of its own).
#
# Installs only what is missing, and only when it can do so without a prompt: as root, or
# through `sudo -n`. `apt-get update` runs once, right before the install. Anything it cannot
# install is named in one warning line, and the script still succeeds: `make run` starts
# private servers from whatever binaries exist and says what is missing.
#
# When a local PostgreSQL answers on 127.0.0.1:5432 and we may act as its `postgres` user,
# a superuser role named after the developer is created, since .env's DATABASE_URL connects
# as that user (Debian's cluster only has `postgres`).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

have() { command -v "$1" >/dev/null 2>&1; }

have_postgres_server() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || have initdb
}

missing=()
have ffmpeg || missing+=(ffmpeg)
have ffprobe || [[ " ${missing[*]} " == *" ffmpeg "* ]] || missing+=(ffmpeg)
have_postgres_server && have psql || missing+=(postgresql postgresql-client)
have redis-server || missing+=(redis-server)
have wrk || missing+=(wrk)
have nginx || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
have promtool || missing+=(prometheus)  # Debian ships promtool in the prometheus package
have node || missing+=(nodejs)
have npm || missing+=(npm)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)

as_root=()
if [[ $EUID -ne 0 ]]; then
  if have sudo && sudo -n true 2>/dev/null; then as_root=(sudo -n); else as_root=(); fi
fi
can_root() { [[ $EUID -eq 0 || ${#as_root[@]} -gt 0 ]]; }

if ((${#missing[@]})); then
  if ! have apt-get; then
    echo "bootstrap: no apt-get here; install these yourself: ${missing[*]}" >&2
  elif ! can_root; then
    echo "bootstrap: missing ${missing[*]}; run as root or with passwordless sudo to install them" >&2
  else
    echo "bootstrap: installing ${missing[*]}"
    "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The package also enables a Prometheus server (:9090) where systemd runs; only promtool is wanted.
    if [[ " ${missing[*]} " == *" prometheus "* ]] && have systemctl && systemctl is-enabled --quiet prometheus 2>/dev/null; then
      "${as_root[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  fi
fi

# A role for the developer in the local cluster, if there is one and we may administer it.
if have pg_isready && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && id postgres >/dev/null 2>&1 && can_root; then
  role="${SUDO_USER:-$(id -un)}"
  # Through the unix socket: Debian's pg_hba.conf trusts the postgres OS user there (peer).
  as_postgres=("${as_root[@]}" runuser -u postgres --)
  exists="$(cd / && "${as_postgres[@]}" psql -p 5432 -d postgres -tAc \
    "SELECT 1 FROM pg_roles WHERE rolname = '${role//\'/\'\'}'" 2>/dev/null || true)"
  if [[ "$exists" != "1" ]]; then
    (cd / && "${as_postgres[@]}" createuser -p 5432 --superuser "$role") 2>/dev/null \
      && echo "bootstrap: created PostgreSQL role $role" \
      || echo "bootstrap: could not create PostgreSQL role $role (create it yourself: createuser --superuser $role)" >&2
  fi
fi
