#!/usr/bin/env bash
# Smoke test of the container image: build it, run it as an operator would, ask it for
# decisions, stop it. See docs/deploy.md, "Container image".
#
#   deploy/container/smoke.sh            (from anywhere; needs root for podman/buildah)
#
# 1. a base image from Debian's packages (mmdebstrap; this machine reaches no image
#    registry), built once and kept as $BASE_IMAGE;
# 2. the image, from the checkout's Containerfile, with BASE=$BASE_IMAGE;
# 3. in the image, as its own user, with its own ENTRYPOINT and CMD plus the options an
#    operator adds: --workers 2, Redis counters (a redis-server this script starts on
#    loopback), the signature secret from a mounted file, the metrics token from the
#    environment, /tmp a tmpfs and the home mounted read-only;
# 4. from the host, on 127.0.0.1 only: /readyz, the image's HEALTHCHECK command, a
#    signed allow and a signed deny (`receiver send`), a forged signature (401),
#    /metrics summed over both workers; the uid of every receiver process; the
#    compiled build; SIGTERM and a clean exit; nothing written to the root filesystem.
#
# With chroot isolation the container shares the host's network: the service listens on
# a free port picked here. It prints the time each step took, and removes everything it
# created (the working containers, the temporary folder) and stops what it started (by
# PID) on every exit. The images stay: they are the cache of the next run.
#
# Environment: BASE_IMAGE (default localhost/receiver-base:bookworm), IMAGE (default
# localhost/receiver:latest), PIP_CA (a CA bundle for pip behind a TLS-intercepting
# proxy; default $PIP_CERT when set), RECEIVER (the host's receiver command, default
# `receiver`: activate the dev venv), SMOKE_NO_BUILD=1 (use $IMAGE as it is).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE_IMAGE=${BASE_IMAGE:-localhost/receiver-base:bookworm}
IMAGE=${IMAGE:-localhost/receiver:latest}
PIP_CA=${PIP_CA:-${PIP_CERT:-}}
RECEIVER=${RECEIVER:-receiver}
UID_EXPECTED=10001
READY_TIMEOUT=60  # seconds for /readyz
STOP_TIMEOUT=40   # seconds for a graceful stop (the service lets requests finish for 30 s)

say() { printf 'smoke: %s\n' "$*"; }
fail() { printf 'smoke: FAILED: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
TIMINGS=()
STEP_NAME="" STEP_START=""
step() {  # step NAME: ends the step before (printing its time), starts NAME
    local end
    end=$(now)
    if [[ -n $STEP_NAME ]]; then
        local took
        took=$(printf '%.1f' "$(bc <<<"$end - $STEP_START")")
        say "  ${STEP_NAME}: ${took} s"
        TIMINGS+=("$(printf '%-50s %6s s' "$STEP_NAME" "$took")")
    fi
    STEP_NAME=${1:-} STEP_START=$end
    [[ -z $STEP_NAME ]] || say "$STEP_NAME ..."
}

for tool in podman buildah mmdebstrap redis-server curl bc python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install $tool)"
done
command -v "$RECEIVER" >/dev/null \
    || fail "no '$RECEIVER' command on the host: activate the dev venv (pip install -e '.[dev]') or set RECEIVER"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/receiver-smoke.XXXXXX")
CONTAINERS=()
REDIS_PID="" SERVER_PID=""

stop_pid() {  # stop_pid PID SECONDS: SIGTERM, wait, then SIGKILL its process group
    local pid=$1 limit=$2 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

# The service stops on SIGTERM to its own process (buildah run, sent one, would kill it
# at once); `buildah run` then exits with its status. Past the limit: SIGKILL to the
# process group that setsid gave `buildah run`.
stop_service() {
    local service i
    service=$(service_pid)
    if [[ -n $service ]]; then
        kill -TERM "$service" 2>/dev/null || true
    else  # not started yet, or gone: nothing to let finish
        kill -TERM "$SERVER_PID" 2>/dev/null || true
    fi
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
        return 1
    fi
}

cleanup() {
    local status=$?
    set +e
    [[ -z $SERVER_PID ]] || stop_service
    [[ -z $REDIS_PID ]] || stop_pid "$REDIS_PID" 10
    for ctr in "${CONTAINERS[@]}"; do
        buildah umount "$ctr" >/dev/null 2>&1
        buildah rm "$ctr" >/dev/null 2>&1
    done
    if ((status != 0)) && [[ -s $WORK/server.err ]]; then
        say "the service's stderr (last 30 lines):"
        tail -n 30 "$WORK/server.err" >&2
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The receiver's own process under `buildah run` (buildah-chroot-runtime, then
# buildah-chroot-exec, then the receiver): the first descendant of $SERVER_PID that runs
# the receiver's Python. Its children are the workers.
service_pid() {
    local pid=$SERVER_PID child depth
    for ((depth = 0; depth < 6; depth++)); do
        child=$(ps -o pid= --ppid "$pid" | head -n 1 | tr -d ' ')
        [[ -n $child ]] || return 0
        if [[ $(readlink "/proc/$child/exe" 2>/dev/null) == *python* ]]; then
            echo "$child"
            return 0
        fi
        pid=$child
    done
}

image_config() {  # image_config KEY KEY: a list in $IMAGE's configuration, one item a line
    podman image inspect "$IMAGE" | python3 -c '
import json, sys
value = json.load(sys.stdin)[0]
for key in sys.argv[1:]:
    value = (value or {}).get(key)
print("\n".join(value or []))' "$@"
}

new_container() {  # new_container NAME: a working container of $IMAGE, removed on exit
    buildah from --pull-never --name "$1" "$IMAGE" >/dev/null
    CONTAINERS+=("$1")
}

say "workdir $WORK"

# -- 1. the base image ---------------------------------------------------------------------
step "base image ($BASE_IMAGE)"
if podman image exists "$BASE_IMAGE"; then
    say "  cached"
else
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv bookworm "$WORK/base.tar"
    podman import --quiet "$WORK/base.tar" "$BASE_IMAGE" >/dev/null
    rm -f "$WORK/base.tar"
fi

# -- 2. the image ----------------------------------------------------------------------------
step "image build ($IMAGE)"
if [[ ${SMOKE_NO_BUILD:-} == 1 ]]; then
    podman image exists "$IMAGE" || fail "SMOKE_NO_BUILD=1 but there is no $IMAGE"
    say "  skipped (SMOKE_NO_BUILD=1)"
else
    build=(podman build --isolation chroot --format docker --pull=never
        --build-arg "BASE=$BASE_IMAGE" -t "$IMAGE" -f "$ROOT/Containerfile")
    [[ -z $PIP_CA || ! -s $PIP_CA ]] || build+=(--secret "id=pip-ca,src=$PIP_CA")
    "${build[@]}" "$ROOT" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; fail "image build"; }
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "  image size $((size / 1000 / 1000)) MB"

# -- 3. the compiled build and the user, without starting the service ----------------------
step "compiled build and user"
new_container "receiver-smoke-probe-$$"
probe=(buildah run --isolation chroot --no-hosts "receiver-smoke-probe-$$" --)
version=$("${probe[@]}" receiver --version)
compiled=$(cd "$ROOT" && python3 -c 'import hatch_build; print(len(hatch_build.COMPILED))')
[[ $version == *"(compiled with mypyc: $compiled modules)" ]] \
    || fail "receiver --version in the image says '$version', not compiled with mypyc: $compiled modules"
say "  $version"
user=$("${probe[@]}" python3 -c 'import os; print(os.getuid(), os.getgid())')
[[ $user == "$UID_EXPECTED $UID_EXPECTED" ]] || fail "the image's user is $user, not $UID_EXPECTED"
# One probe that prints the build tools it finds and exits 0: a probe expected to fail
# would make buildah log "Error: exit status 1" in a run that passes, while a real
# failure (of buildah, or of Python in the image) still shows its stderr and fails here.
present=$("${probe[@]}" python3 -c 'import shutil, sys
print(" ".join(tool for tool in sys.argv[1:] if shutil.which(tool)))' gcc cc make pip) \
    || fail "cannot look for build tools in the image (buildah run failed; its error is above)"
[[ -z $present ]] || fail "the final image holds $present"

# -- 4. the service ------------------------------------------------------------------------
step "start (redis, receiver --workers 2)"
REDIS_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PORT=$(free_port)
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
METRICS_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
mkdir "$WORK/secrets"
printf '%s\n' "$SECRET" >"$WORK/secrets/socialplus-secret"
chown "$UID_EXPECTED:$UID_EXPECTED" "$WORK/secrets/socialplus-secret"
chmod 0400 "$WORK/secrets/socialplus-secret"

ctr="receiver-smoke-$$"
new_container "$ctr"
rootfs=$(buildah mount "$ctr")
mapfile -t entry < <(image_config Config Entrypoint; image_config Config Cmd)
# The image's ENTRYPOINT and CMD (receiver serve --host 0.0.0.0), then the operator's options.
setsid buildah run --isolation chroot --no-hosts \
    --env "RECEIVER_METRICS_TOKEN=$METRICS_TOKEN" \
    --volume "$WORK/secrets/socialplus-secret:/run/secrets/socialplus-secret:ro" \
    --volume "$rootfs/home/receiver:/home/receiver:ro" \
    --mount type=tmpfs,destination=/tmp \
    "$ctr" -- "${entry[@]}" --port "$PORT" --workers 2 \
    --secret-file /run/secrets/socialplus-secret \
    --counters redis --redis-url "redis://127.0.0.1:$REDIS_PORT/0" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
say "  ${entry[*]} --port $PORT --workers 2 --secret-file ... --counters redis ..."

step "wait for /readyz"
BASE_URL="http://127.0.0.1:$PORT"
deadline=$(($(date +%s) + READY_TIMEOUT))
until [[ $(curl -s -o /dev/null -w '%{http_code}' -m 2 "$BASE_URL/readyz") == 200 ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the service exited before it was ready"
    (($(date +%s) < deadline)) || fail "/readyz not 200 within $READY_TIMEOUT s"
    sleep 0.2
done
say "  $(curl -s -m 2 "$BASE_URL/readyz")"
# Both workers up: each loads the policies on its own and logs it.
deadline=$(($(date +%s) + READY_TIMEOUT))
until (($(grep -c 'Application startup complete' "$WORK/server.err" || true) >= 2)); do
    (($(date +%s) < deadline)) || fail "two workers not up within $READY_TIMEOUT s"
    sleep 0.2
done

step "health check (the image's HEALTHCHECK command)"
mapfile -t health < <(image_config Healthcheck Test)
[[ ${health[0]:-} == CMD ]] || fail "the image has no HEALTHCHECK (build with --format docker)"
buildah run --isolation chroot --no-hosts --env "RECEIVER_HEALTHCHECK_URL=$BASE_URL/readyz" \
    "receiver-smoke-probe-$$" -- "${health[@]:1}" || fail "the HEALTHCHECK command failed"

step "signed requests (allow, deny)"
send() {  # send PAYLOAD SECRET: prints the HTTP status line and the answer
    RECEIVER_SOCIALPLUS_SECRET=$2 "$RECEIVER" send "$ROOT/examples/payloads/$1" \
        --url "$BASE_URL/hooks/socialplus" 2>&1 || true
}
answer=$(send message-create-plain.json "$SECRET")
[[ $answer == *"HTTP 200"* && $answer == *'{"action":"allow"'* ]] || fail "plain message: $answer"
say "  allow: ${answer//$'\n'/ }"
answer=$(send message-create-spam.json "$SECRET")
[[ $answer == *"HTTP 200"* && $answer == *'{"action":"deny"'* ]] || fail "spam message: $answer"
say "  deny:  ${answer//$'\n'/ }"

step "forged signature (401)"
answer=$(send message-create-plain.json "not-the-secret")
[[ $answer == *"HTTP 401"* ]] || fail "a wrong secret's signature got: $answer"
status=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H 'content-type: application/json' \
    --data-binary "@$ROOT/examples/payloads/message-create-plain.json" "$BASE_URL/hooks/socialplus")
[[ $status == 401 ]] || fail "an unsigned request got $status"

step "metrics over both workers, the processes' uid"
metrics=$(curl -s -m 5 -H "authorization: Bearer $METRICS_TOKEN" "$BASE_URL/metrics")
workers=$(grep -c '^receiver_policy_revision{.*pid=' <<<"$metrics" || true)
((workers == 2)) || fail "/metrics shows $workers workers, not 2 (multiprocess metrics in TMPDIR)"
service=$(service_pid)
[[ -n $service ]] || fail "cannot find the receiver's process under buildah run ($SERVER_PID)"
rss=()
for pid in "$service" $(ps -o pid= --ppid "$service"); do
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
    [[ $uid == "$UID_EXPECTED" ]] || fail "process $pid runs as uid $uid, not $UID_EXPECTED"
    rss+=("$pid:$(awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$pid/status")MB")
done
say "  supervisor $service and its children run as uid $UID_EXPECTED; resident memory ${rss[*]}"
grep -q "compiled with mypyc: $compiled modules" "$WORK/server.err" \
    || fail "the start-up line does not say compiled with mypyc: $compiled modules"

step "stop (SIGTERM)"
stop_service || fail "the service did not stop within $STOP_TIMEOUT s of SIGTERM"
code=0
wait "$SERVER_PID" || code=$?
SERVER_PID=""
((code == 0)) || fail "the service exited with $code after SIGTERM"

step "nothing written to the root filesystem"
# The container's own layer holds whatever the run wrote outside the tmpfs and the
# mounts (a read-only root would have refused it); buildah makes the mount points.
layer="${rootfs%/merged}/diff"
if [[ $rootfs == */merged && -d $layer ]]; then
    # (the empty file buildah makes as the mount point of the secret file aside)
    written=$(cd "$layer" && find . -mindepth 1 ! -type d ! -path ./run/secrets/socialplus-secret | head -n 20)
    [[ -z $written ]] || fail "the service wrote to the root filesystem: $written"
else
    say "  skipped: the storage driver is not overlay ($rootfs)"
fi
stop_pid "$REDIS_PID" 10
REDIS_PID=""

step ""
say "passed"
printf '  %s\n' "${TIMINGS[@]}"
