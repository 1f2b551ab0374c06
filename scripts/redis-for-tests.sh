# Sourced by test.sh: sets TEST_REDIS_URL to a Redis the tests may use.
# Uses the one on 127.0.0.1:6379 when it answers (tests keep to a private key
# prefix and clean up); otherwise starts a private redis-server, installing it
# with apt-get when missing, and stops it on exit.
redis_answers() {
  "$BIN/python" - "$1" <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

if [ -z "${TEST_REDIS_URL:-}" ]; then
  if redis_answers 6379; then
    export TEST_REDIS_URL="redis://127.0.0.1:6379/0"
  else
    if ! command -v redis-server >/dev/null 2>&1; then
      echo "redis-server not found: installing it with apt-get"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    fi
    REDIS_TEST_PORT=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    REDIS_TEST_DIR=$(mktemp -d)
    redis-server --port "$REDIS_TEST_PORT" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$REDIS_TEST_DIR" --daemonize yes --pidfile "$REDIS_TEST_DIR/redis.pid" \
      --logfile "$REDIS_TEST_DIR/redis.log"
    for _ in $(seq 1 50); do redis_answers "$REDIS_TEST_PORT" && break; sleep 0.1; done
    trap 'kill "$(cat "$REDIS_TEST_DIR/redis.pid")" 2>/dev/null || true; rm -rf "$REDIS_TEST_DIR"' EXIT
    export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_TEST_PORT/0"
    echo "started a private redis-server on port $REDIS_TEST_PORT"
  fi
fi
