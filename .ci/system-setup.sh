#!/usr/bin/env bash
# System packages and services for the test suite (idempotent; needs root).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "system-setup: not root, skipping system packages"; exit 0; fi

# --- PostgreSQL for the gradebook tests (tests/grading): a throwaway trust-auth cluster on
# 127.0.0.1:55432, the URL tests/grading/conftest.py uses by default.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p 55432; then
  PGDATA=$(mktemp -d /tmp/labchain-pg.XXXXXX)
  chown postgres "$PGDATA"
  su postgres -s /bin/sh -c "$PGBIN/initdb -D $PGDATA -A trust -U postgres" >/dev/null
  su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -l $PGDATA/server.log -w \
    -o '-h 127.0.0.1 -p 55432 -k $PGDATA' start" >/dev/null
fi

# --- Redis for the distributed-grading tests (tests/grading/queue, docs/grading-queue.md): the
# Celery broker and result store, on 127.0.0.1:56379 (LABCHAIN_TEST_REDIS overrides the URL).
if ! command -v redis-server >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi
if ! redis-cli -h 127.0.0.1 -p 56379 ping >/dev/null 2>&1; then
  RDDIR=$(mktemp -d /tmp/labchain-redis.XXXXXX)
  redis-server --daemonize yes --bind 127.0.0.1 --port 56379 --dir "$RDDIR" --save '' \
    --appendonly no --logfile "$RDDIR/redis.log" --pidfile "$RDDIR/redis.pid"
fi

# --- The unprivileged user sandboxed grading kernels run as (grading/sandbox; the zygote
# also creates it on first use, this just makes it exist before tests run in parallel).
id -u labchain-sandbox >/dev/null 2>&1 || useradd --system --no-create-home \
  --home-dir /nonexistent --shell /usr/sbin/nologin --user-group labchain-sandbox

# --- Prometheus for tests/labchain/node/test_node_metrics.py (docs/monitoring.md): only the
# binary; no server is started here, the test runs its own on loopback with a temp config.
if ! [ -x /usr/bin/prometheus ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# --- Chromium for the explorer's end-to-end tests (tests/labchain/explorer, docs/explorer.md),
# driven by Playwright with executable_path=/usr/bin/chromium (no `playwright install`).
if ! [ -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! fc-list 2>/dev/null | grep -qi "wqy\|cjk"; then  # Chinese glyphs for the zh-CN screenshots
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-microhei >/dev/null
fi
# --- configurable-http-proxy (npm) for the class server tests (tests/labchain/deploy/hub,
# docs/hub.md): JupyterHub's proxy, run as its own process by `labchain hub up`.
if ! command -v configurable-http-proxy >/dev/null; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  npm install --global --silent configurable-http-proxy@5 >/dev/null
fi
# --- Docker engine and images for the container tests (tests/docker; see docs/docker.md).
# docker.io's dockerd (started here if none answers), debootstrap for the base image; then the
# images are built from this checkout (the base image is reused when cached; no Docker Hub).
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  nohup dockerd >/var/log/labchain-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "system-setup: dockerd did not start:"; tail -n 20 /var/log/labchain-dockerd.log; exit 1; }
fi
make images
