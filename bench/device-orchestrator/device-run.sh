#!/usr/bin/env bash
# Runs the orchestrator benches on the device (no Node.js, Postgres, Redis or network there) from
# what bench/device-orchestrator/make-carry.sh packed into .devorch/carry/. Run from the repo root on the device:
#   run(command="bash bench/device-orchestrator/device-run.sh", carry=[".devorch"], timeout_s=600)
# Unpacks into /tmp/dd (never over /), starts Postgres 15 as a non-root user (initdb, trust auth,
# 127.0.0.1:5432, database test, user postgres, jit=off; autovacuum=off, synchronous_commit=on,
# shared_buffers=128MB as on the dev VM) and Redis (127.0.0.1:6379, no persistence), then runs
#   dispatch x3, dispatch --count-sql --no-reference x1, api-latency x2
# (override with BENCHES="dispatch dispatch-sql api dist/bench/dispatch.bench.js,--trials,200 ..."). Everything goes to $OUT/log.txt.
# Local dry run (a chroot or another port): D=/tmp/somewhere PGPORT=5433 REDIS_PORT=6380 OUT=/tmp/x bash ...
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
C=${CARRY_DIR:-$HERE/../../.devorch/carry}
D=${D:-/tmp/dd}
OUT=${OUT:-/tmp/dd-out}
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
BENCHES=${BENCHES:-"dispatch dispatch dispatch dispatch-sql api api"}
PGUSER_OS=${PGUSER_OS:-pgbench}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
T0=$(date +%s)
ts() { echo "[$(($(date +%s) - T0)) s] $*"; }

ts "== host"
nproc
lscpu | head -20
uname -a
head -2 /etc/os-release 2>/dev/null
free -g 2>/dev/null | head -2

ts "== unpack into $D"
rm -rf "$D" && mkdir -p "$D/node" && chmod 755 "$D"
xz -dc "$C/node.xz" >"$D/node/node" && chmod 755 "$D/node/node"
tar -C "$D" -xJf "$C/app.tar.xz" && tar -C "$D" -xJf "$C/pgredis.tar.xz" || { echo "unpack failed"; exit 1; }
LIBS=$D/pgredis/syslibs
PGBIN=$D/pgredis/usr/lib/postgresql/15/bin
R() { LD_LIBRARY_PATH=$LIBS "$@"; }
NODE=$D/node/node
R "$NODE" -v
R "$PGBIN/postgres" --version
R "$D/pgredis/redis/redis-server" --version

ts "== postgres (as $PGUSER_OS)"
if ! id "$PGUSER_OS" >/dev/null 2>&1; then
  useradd -M -r -d "$D" -s /bin/sh "$PGUSER_OS" 2>&1 || echo "$PGUSER_OS:x:4711:4711::$D:/bin/sh" >>/etc/passwd
  getent group "$PGUSER_OS" >/dev/null 2>&1 || grep -q "^$PGUSER_OS:" /etc/group || echo "$PGUSER_OS:x:$(id -g "$PGUSER_OS"):" >>/etc/group
fi
PUID=$(id -u "$PGUSER_OS") PGID=$(id -g "$PGUSER_OS")
echo "user $PGUSER_OS uid=$PUID gid=$PGID"
# Runs a command as that user (node's spawn drops to uid/gid and clears supplementary groups).
asuser() {
  R "$NODE" -e 'const r = require("child_process").spawnSync(process.argv[1], process.argv.slice(2), { stdio: "inherit", uid: +process.env.PUID, gid: +process.env.PGID }); if (r.error) console.error(r.error); process.exit(r.status ?? 1);' "$@"
}
export PUID PGID
PGDATA=$D/pgdata SOCK=$D/pgsock
mkdir -p "$PGDATA" "$SOCK" && chown "$PUID:$PGID" "$PGDATA" "$SOCK" && chmod 700 "$PGDATA"
# Postgres reads /usr/share/zoneinfo (Debian's build); where it is missing, 'GMT' needs no file.
TZN=UTC
[ -f /usr/share/zoneinfo/UTC ] || TZN=GMT
TZ=$TZN asuser "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C >"$OUT/initdb.log" 2>&1 || { cat "$OUT/initdb.log"; exit 1; }
DSM=posix
[ -d /dev/shm ] && [ -w /dev/shm ] || DSM=mmap
cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$SOCK'
jit = off
autovacuum = off
synchronous_commit = on
shared_buffers = 128MB
max_connections = 100
dynamic_shared_memory_type = $DSM
timezone = '$TZN'
log_timezone = '$TZN'
EOF
asuser "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start || { cat "$PGDATA/server.log"; exit 1; }
R "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -Atc 'CREATE DATABASE test' -c 'SELECT version()' -c 'SHOW jit' -c 'SHOW dynamic_shared_memory_type' -c 'SHOW TimeZone' || { cat "$PGDATA/server.log"; exit 1; }

ts "== redis"
R "$D/pgredis/redis/redis-server" --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes --logfile "$D/redis.log" --dir "$D"
for _ in $(seq 50); do R "$D/pgredis/redis/redis-cli" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
R "$D/pgredis/redis/redis-cli" -p "$REDIS_PORT" info server | grep -E 'redis_version|multiplexing_api|process_id'

export DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/test REDIS_URL=redis://127.0.0.1:$REDIS_PORT
cd "$D/app"
i=0
for b in $BENCHES; do
  i=$((i + 1))
  case "$b" in
    dispatch) args=(dist/bench/dispatch.bench.js) lim=150 ;;
    dispatch-sql) args=(dist/bench/dispatch.bench.js --count-sql --no-reference) lim=150 ;;
    api) args=(dist/bench/api-latency.bench.js) lim=170 ;;
    *) args=(${b//,/ }) lim=150 ;; # e.g. dist/bench/dispatch.bench.js,--trials,200
  esac
  ts "== run $i: node ${args[*]}"
  timeout -k 5 "$lim" env LD_LIBRARY_PATH="$LIBS" "$NODE" "${args[@]}"
  ts "exit $?"
done

ts "== stop"
R "$D/pgredis/redis/redis-cli" -p "$REDIS_PORT" shutdown nosave 2>/dev/null
asuser "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop
cp "$PGDATA/server.log" "$OUT/pg.log" 2>/dev/null
ts "done"
