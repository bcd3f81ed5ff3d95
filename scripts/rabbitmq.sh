#!/usr/bin/env bash
# A throw-away RabbitMQ node on loopback for mqscope's integration tests and benchmarks.
#
#   scripts/rabbitmq.sh install          apt-get install rabbitmq-server when missing (exit 0 even if
#                                        that fails, with a clear message, so tests can skip)
#   scripts/rabbitmq.sh start [STATE]    start a node with a fresh data dir under mktemp, listening on
#                                        127.0.0.1 only (5672, or a free port when 5672 is taken);
#                                        prints the amqp:// URL and writes it to the state file
#   scripts/rabbitmq.sh stop [STATE]     stop that node, stop epmd if we started it, remove the dir
#   scripts/rabbitmq.sh url [STATE]      print the URL of the running node
#   scripts/rabbitmq.sh mgmt-url [STATE] print the management HTTP API's URL (http://127.0.0.1:PORT;
#                                        the rabbitmq_management plugin is enabled on 127.0.0.1 only,
#                                        15672 or a free port when 15672 is taken)
#   scripts/rabbitmq.sh restart [STATE]  stop the whole node and start it again (same port, same data)
#   scripts/rabbitmq.sh stop-app|start-app [STATE]   take the broker away and bring it back (the
#                                        node keeps its data: an outage as clients see it)
#   scripts/rabbitmq.sh ctl STATE ARGS...  rabbitmqctl ARGS against that node (stdin passed through)
#
# STATE defaults to $MQSCOPE_RABBITMQ_STATE or ${TMPDIR:-/tmp}/mqscope-rabbitmq.state. The state file
# is a sourceable list of KEY=value lines (URL, NODE, DIR, PORT, DIST_PORT, MGMT_PORT, MGMT_URL,
# STARTED_EPMD).
# Debian's wrapper runs the node as the `rabbitmq` user, so the data dir is chowned to it.
# Only loopback addresses are ever used: AMQP, management HTTP, Erlang distribution and epmd all
# bind 127.0.0.1.
set -euo pipefail

STATE_DEFAULT="${MQSCOPE_RABBITMQ_STATE:-${TMPDIR:-/tmp}/mqscope-rabbitmq.state}"
START_TIMEOUT="${MQSCOPE_RABBITMQ_START_TIMEOUT:-90}"

say() { printf 'rabbitmq.sh: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n -E "$@"
  else return 1
  fi
}

have_server() { command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ]; }

port_free() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

amqp_open() {
  python3 - "$1" <<'EOF'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)
EOF
}

# The management API answers (any HTTP status: the listener is up and the plugin is serving).
mgmt_open() {
  python3 - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/overview", timeout=1).close()
except urllib.error.HTTPError:
    pass
except OSError:
    sys.exit(1)
EOF
}

# The node is ready when rabbitmqctl, AMQP and (when enabled) the management API all answer.
node_ready() {
  ctl ping >/dev/null 2>&1 && amqp_open "$PORT" && { [ -z "${MGMT_PORT:-}" ] || mgmt_open "$MGMT_PORT"; }
}

cmd_install() {
  if have_server; then
    say "rabbitmq-server is already installed ($(command -v rabbitmq-server || echo /usr/sbin/rabbitmq-server))"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "cannot install rabbitmq-server: no apt-get here; RabbitMQ integration tests will skip (fail under CI=true)"
    return 0
  fi
  say "installing rabbitmq-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d stops the package from starting the system-wide node on 0.0.0.0 during install.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ] && [ "$(id -u)" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  local ok=0 log
  log="$(mktemp "${TMPDIR:-/tmp}/mqscope-rabbitmq-install.XXXXXX")"
  if as_root apt-get install -y -q rabbitmq-server >"$log" 2>&1; then ok=1
  elif as_root apt-get update -q >>"$log" 2>&1 && as_root apt-get install -y -q rabbitmq-server >>"$log" 2>&1; then ok=1
  fi
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
  if [ "$ok" = 1 ] && have_server; then
    say "rabbitmq-server installed"
  else
    tail -n 5 "$log" >&2 || true
    say "could not install rabbitmq-server (no root, no network or no package); RabbitMQ integration tests will skip (fail under CI=true)"
  fi
  rm -f "$log"
  return 0
}

# Erlang/RabbitMQ environment for one node; everything on loopback, nothing from /etc/rabbitmq.
node_env() {
  export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq"
  export RABBITMQ_MNESIA_BASE="$DIR/mnesia"
  export RABBITMQ_LOG_BASE="$DIR/log"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
  export RABBITMQ_NODENAME="$NODE"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$PORT"
  export RABBITMQ_DIST_PORT="$DIST_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

ctl() { node_env; rabbitmqctl -q -n "$NODE" "$@"; }

# Start the node described by NODE/DIR/PORT/DIST_PORT and wait until it answers AMQP.
launch() {
  local state="$1"
  node_env
  setsid rabbitmq-server >>"$DIR/server.out" 2>&1 </dev/null &
  # setsid makes the node its own process group: `stop` can end exactly that group, nothing else.
  sed -i '/^PGID=/d' "$state"
  printf 'PGID=%q\n' "$!" >>"$state"
  PGID="$!"
  local deadline=$((SECONDS + START_TIMEOUT))
  until node_ready; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "RabbitMQ did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s; last log lines:"
      tail -n 20 "$DIR/server.out" "$DIR"/log/*.log 2>/dev/null >&2 || true
      cmd_stop "$state" || true
      return 1
    fi
    sleep 0.5
  done
}

# Stop the node and wait for its process group to end (TERM, later KILL, if it lingers).
halt() {
  ctl stop >/dev/null 2>&1 || true
  if [ -n "${PGID:-}" ]; then
    local waited=0
    while kill -0 -- "-$PGID" 2>/dev/null && [ "$waited" -lt 60 ]; do
      if [ "$waited" = 40 ]; then kill -- "-$PGID" 2>/dev/null || true; fi
      sleep 0.25; waited=$((waited + 1))
    done
    if kill -0 -- "-$PGID" 2>/dev/null; then kill -9 -- "-$PGID" 2>/dev/null || true; fi
  fi
}

# A hard outage: the whole node goes down and comes back on the same port with the same data.
cmd_restart() {
  local state="$1"
  [ -f "$state" ] || { say "not running (no state file $state)"; return 1; }
  # shellcheck disable=SC1090
  . "$state"
  halt
  launch "$state"
}

cmd_start() {
  local state="$1"
  if ! have_server; then
    say "rabbitmq-server is not installed (run: scripts/rabbitmq.sh install)"
    return 1
  fi
  if [ -f "$state" ]; then
    # shellcheck disable=SC1090
    . "$state"
    if [ -n "${PORT:-}" ] && amqp_open "$PORT"; then
      say "already running: $URL"
      printf '%s\n' "$URL"
      return 0
    fi
    cmd_stop "$state" || true
  fi
  PORT=5672
  port_free "$PORT" || PORT="$(free_port)"
  DIST_PORT="$(free_port)"
  MGMT_PORT=15672
  port_free "$MGMT_PORT" || MGMT_PORT="$(free_port)"
  MGMT_URL="http://127.0.0.1:$MGMT_PORT"
  NODE="mqscope-$$@localhost"
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/mqscope-rabbitmq.XXXXXX")"
  chmod 755 "$DIR"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$PORT" >"$DIR/rabbitmq.conf"
  printf 'management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = %s\n' "$MGMT_PORT" >>"$DIR/rabbitmq.conf"
  printf '[rabbitmq_management].\n' >"$DIR/enabled_plugins"
  mkdir -p "$DIR/mnesia" "$DIR/log"
  if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then chown -R rabbitmq:rabbitmq "$DIR"; fi
  STARTED_EPMD=0
  pgrep -x epmd >/dev/null 2>&1 || STARTED_EPMD=1
  URL="amqp://guest:guest@127.0.0.1:$PORT//"
  {
    printf 'URL=%q\nNODE=%q\nDIR=%q\nPORT=%q\nDIST_PORT=%q\nMGMT_PORT=%q\nMGMT_URL=%q\nSTARTED_EPMD=%q\n' \
      "$URL" "$NODE" "$DIR" "$PORT" "$DIST_PORT" "$MGMT_PORT" "$MGMT_URL" "$STARTED_EPMD"
  } >"$state"
  launch "$state" || return 1
  say "RabbitMQ $NODE listening on 127.0.0.1:$PORT, management API on $MGMT_URL (data in $DIR)"
  printf '%s\n' "$URL"
}

cmd_stop() {
  local state="$1"
  if [ ! -f "$state" ]; then
    say "nothing to stop (no state file $state)"
    return 0
  fi
  # shellcheck disable=SC1090
  . "$state"
  halt
  # epmd is shared by every node on the machine: end it only when no other node still uses it
  # (a second test session's node would lose its name, and rabbitmqctl could no longer reach it).
  if [ "${STARTED_EPMD:-0}" = 1 ] && ! epmd -names 2>/dev/null | grep -q '^name '; then
    epmd -kill >/dev/null 2>&1 || true
  fi
  case "${DIR:-}" in
    "${TMPDIR:-/tmp}"/mqscope-rabbitmq.*) rm -rf -- "$DIR" ;;
  esac
  rm -f -- "$state"
  say "stopped $NODE"
}

# The broker "goes away" without losing its data: stop_app closes every connection and the listener.
cmd_app() {
  local state="$1" action="$2"
  [ -f "$state" ] || { say "not running (no state file $state)"; return 1; }
  # shellcheck disable=SC1090
  . "$state"
  ctl "$action"
  if [ "$action" = start_app ]; then
    local deadline=$((SECONDS + START_TIMEOUT))
    until amqp_open "$PORT" && { [ -z "${MGMT_PORT:-}" ] || mgmt_open "$MGMT_PORT"; }; do
      [ "$SECONDS" -ge "$deadline" ] && { say "AMQP port $PORT (or the management API) did not reopen"; return 1; }
      sleep 0.2
    done
  fi
}

cmd_ctl() {
  local state="$1"
  shift
  [ -f "$state" ] || { say "not running (no state file $state)"; return 1; }
  # shellcheck disable=SC1090
  . "$state"
  ctl "$@"
}

cmd_url() {
  local state="$1"
  [ -f "$state" ] || { say "not running (no state file $state)"; return 1; }
  # shellcheck disable=SC1090
  . "$state"
  printf '%s\n' "$URL"
}

cmd_mgmt_url() {
  local state="$1"
  [ -f "$state" ] || { say "not running (no state file $state)"; return 1; }
  # shellcheck disable=SC1090
  . "$state"
  [ -n "${MGMT_URL:-}" ] || { say "that node was started without the management API"; return 1; }
  printf '%s\n' "$MGMT_URL"
}

main() {
  local cmd="${1:-}"
  local state="${2:-$STATE_DEFAULT}"
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start "$state" ;;
    stop) cmd_stop "$state" ;;
    url) cmd_url "$state" ;;
    mgmt-url) cmd_mgmt_url "$state" ;;
    restart) cmd_restart "$state" ;;
    stop-app) cmd_app "$state" stop_app ;;
    start-app) cmd_app "$state" start_app ;;
    ctl) shift 2; cmd_ctl "$state" "$@" ;;
    *) say "usage: $0 install | start|stop|restart|url|mgmt-url|stop-app|start-app [STATE] | ctl STATE ARGS..."; return 2 ;;
  esac
}

main "$@"
