#!/usr/bin/env bash
# Run Alumni Circles as in production (deploy/): N gunicorn instances sharing
# PostgreSQL and Redis, on one machine, optionally with nginx in front.
#
#   deploy/run-local.sh start [N]     # N instances on ports 5001.. (default 2)
#   deploy/run-local.sh nginx         # nginx on http://127.0.0.1:8080 in front of them
#   deploy/run-local.sh reload        # new code: each instance replaces its worker (SIGHUP)
#   deploy/run-local.sh status
#   deploy/run-local.sh stop          # each drains (SIGTERM), up to GRACEFUL_TIMEOUT
#
# Settings come from the environment, with these defaults:
#   DATABASE_URL            postgresql+psycopg://$USER@127.0.0.1:5432/circles
#   SOCKETIO_MESSAGE_QUEUE  redis://127.0.0.1:6379/0    (rooms, broadcasts, presence)
#   RATELIMIT_STORAGE_URI   redis://127.0.0.1:6379/1    (sign-in limits, across processes)
#   SECRET_KEY              made once into instance/secret_key (all processes share it)
#   BASE_PORT               5001
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
RUN=$ROOT/instance/run
mkdir -p "$RUN"

export DATABASE_URL=${DATABASE_URL:-postgresql+psycopg://${USER:-postgres}@127.0.0.1:5432/circles}
export SOCKETIO_MESSAGE_QUEUE=${SOCKETIO_MESSAGE_QUEUE:-redis://127.0.0.1:6379/0}
export SOCKETIO_CHANNEL=${SOCKETIO_CHANNEL:-alumni-circles}
export RATELIMIT_STORAGE_URI=${RATELIMIT_STORAGE_URI:-redis://127.0.0.1:6379/1}
export ACCESS_LOG=${ACCESS_LOG:-0}
BASE_PORT=${BASE_PORT:-5001}
if [ -z "${SECRET_KEY:-}" ]; then
  # Every process must sign sessions with the same key; keep one in instance/.
  if [ ! -s instance/secret_key ]; then
    (umask 077; "$PY" -c 'import secrets; print(secrets.token_hex(32))' > instance/secret_key)
  fi
  SECRET_KEY=$(cat instance/secret_key)
fi
export SECRET_KEY

start() {
  local n=${1:-2}
  "$PY" -m flask --app app db upgrade          # once, before any process serves
  for i in $(seq 0 $((n - 1))); do
    local port=$((BASE_PORT + i))
    if [ -s "$RUN/app-$port.pid" ] && kill -0 "$(cat "$RUN/app-$port.pid")" 2>/dev/null; then
      echo "port $port: already running (pid $(cat "$RUN/app-$port.pid"))"; continue
    fi
    # One gunicorn instance (master + one gevent worker) per port; nginx's ip_hash spreads clients.
    PORT=$port HOST=127.0.0.1 PROXY_COUNT=${PROXY_COUNT:-1} \
      nohup "$PY" -m gunicorn -c deploy/gunicorn.conf.py >"$RUN/app-$port.log" 2>&1 &
    echo $! >"$RUN/app-$port.pid"
  done
  for i in $(seq 0 $((n - 1))); do
    local port=$((BASE_PORT + i))
    for _ in $(seq 1 100); do
      curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
      sleep 0.1
    done
    echo "port $port: $(curl -fsS "http://127.0.0.1:$port/healthz" || echo 'NOT UP; see '"$RUN/app-$port.log")"
  done
}

nginx_front() {
  # The production nginx.conf with plain HTTP on 127.0.0.1:8080 and this checkout's paths.
  local conf=$RUN/nginx.conf ports
  ports=$(ls "$RUN"/app-*.pid 2>/dev/null | sed -E 's/.*app-([0-9]+)\.pid/\1/' | sort -n)
  [ -n "$ports" ] || { echo "start the app processes first"; exit 1; }
  {
    echo "worker_processes 1; pid $RUN/nginx.pid; error_log $RUN/nginx-error.log;"
    echo "events { worker_connections 4096; }"
    echo "http {"
    echo "  access_log $RUN/nginx-access.log;"
    echo "  client_body_temp_path $RUN/nginx-body; proxy_temp_path $RUN/nginx-proxy;"
    echo "  upstream alumni_circles { ip_hash;"
    for port in $ports; do echo "    server 127.0.0.1:$port;"; done
    echo "    keepalive 32; }"
    echo "  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }"
    echo "  server { listen 127.0.0.1:${NGINX_PORT:-8080}; client_max_body_size 2m;"
    echo "    include $RUN/nginx-files.conf; include $ROOT/deploy/nginx-locations.conf; }"
    echo "}"
  } >"$conf"
  # Files: the storage root of this checkout (FILE_ACCEL_REDIRECT=true for nginx to send them).
  sed "s|/srv/alumni-circles/instance/files/|$ROOT/instance/files/|" \
    "$ROOT/deploy/nginx-files.conf" >"$RUN/nginx-files.conf"
  nginx -t -c "$conf" -p "$RUN" 2>&1 | grep -v "^$" || true
  if [ -s "$RUN/nginx.pid" ] && kill -0 "$(cat "$RUN/nginx.pid")" 2>/dev/null; then
    nginx -c "$conf" -p "$RUN" -s reload
  else
    nginx -c "$conf" -p "$RUN"
  fi
  echo "nginx: http://127.0.0.1:${NGINX_PORT:-8080}/ -> ports $(echo $ports)"
}

status() {
  for pidfile in "$RUN"/app-*.pid "$RUN"/nginx.pid; do
    [ -e "$pidfile" ] || continue
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then echo "$(basename "$pidfile" .pid): running (pid $pid)"
    else echo "$(basename "$pidfile" .pid): not running"; fi
  done
}

reload() {
  for pidfile in "$RUN"/app-*.pid; do
    [ -e "$pidfile" ] || continue
    kill -HUP "$(cat "$pidfile")" 2>/dev/null && echo "$(basename "$pidfile" .pid): reloading"
  done
}

stop() {
  if [ -s "$RUN/nginx.pid" ] && kill -0 "$(cat "$RUN/nginx.pid")" 2>/dev/null; then
    nginx -c "$RUN/nginx.conf" -p "$RUN" -s quit || true
  fi
  local pids=()
  for pidfile in "$RUN"/app-*.pid; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null && pids+=("$(cat "$pidfile")")
    rm -f "$pidfile"
  done
  for pid in "${pids[@]}"; do  # each finishes what it is serving first
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  done
  echo "stopped"
}

case "${1:-}" in
  start) start "${2:-2}" ;;
  nginx) nginx_front ;;
  reload) reload ;;
  status) status ;;
  stop) stop ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
