#!/usr/bin/env bash
# A private Docker engine for the compose backend, in its own network namespace, with
# locally built images (no registry is needed).
#   compose/engine.sh up     install what is missing, start dockerd, build geolab/site
#   compose/engine.sh down   stop dockerd, remove the namespace, veth and routes
#   compose/engine.sh env    print the environment that points the lab at the engine
# Data (images, the debootstrap base, the package folder) is kept in $GEOLAB_ENGINE_DIR
# so a second bring-up takes seconds.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${GEOLAB_ENGINE_DIR:-/var/lib/geolab-engine}
NS=geolab-engine
HOST_IF=gleng0
NS_IF=gleng1
HOST_IP=198.19.255.1
NS_IP=198.19.255.2
BRIDGE_IP=198.18.0.1
POOL=198.18.0.0/15
SOCK=$ROOT/docker.sock
IMAGE=geolab/site:latest
export DOCKER_HOST=unix://$SOCK

log() { echo "engine: $*" >&2; }
in_ns() { nsenter --net=/run/netns/$NS "$@"; }

mirror() {
  local uri
  uri=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' || true)
  [ -n "$uri" ] || uri=$(grep -h -m1 -E '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

install_tools() {
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v dpkg-scanpackages >/dev/null || need+=(dpkg-dev)
  command -v iptables >/dev/null || need+=(iptables)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

network_up() {
  ip route show type unreachable | grep -q "^unreachable $POOL" || ip route add unreachable $POOL metric 4000
  ip netns list | grep -qw $NS || ip netns add $NS
  ip -n $NS link set lo up
  if ! ip link show $HOST_IF >/dev/null 2>&1; then
    ip link add $HOST_IF type veth peer name $NS_IF netns $NS
    ip addr add $HOST_IP/30 dev $HOST_IF
    ip link set $HOST_IF up
    ip -n $NS addr add $NS_IP/30 dev $NS_IF
    ip -n $NS link set $NS_IF up
  fi
  ip route replace 198.18.0.0/16 via $NS_IP dev $HOST_IF
}

dockerd_up() {
  if [ -S "$SOCK" ] && docker info >/dev/null 2>&1; then return; fi
  mkdir -p "$ROOT"
  cat > "$ROOT/daemon.json" <<JSON
{"bip": "$BRIDGE_IP/24", "default-address-pools": [{"base": "198.18.16.0/20", "size": 24}],
 "ip6tables": false, "log-level": "warn"}
JSON
  rm -f "$ROOT/dockerd.pid" "$SOCK"
  setsid nsenter --net=/run/netns/$NS dockerd --config-file "$ROOT/daemon.json" -H "unix://$SOCK" \
    --data-root "$ROOT/root" --exec-root "$ROOT/exec" --pidfile "$ROOT/dockerd.pid" \
    >"$ROOT/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 100); do
    docker info >/dev/null 2>&1 && break
    sleep 0.1
  done
  docker info >/dev/null 2>&1 || { tail -20 "$ROOT/dockerd.log" >&2; log "dockerd did not start"; exit 3; }
  in_ns iptables -C DOCKER-USER -i $NS_IF -j ACCEPT 2>/dev/null || in_ns iptables -I DOCKER-USER -i $NS_IF -j ACCEPT
}

base_image() {
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 && [ -f "$ROOT/repo/Packages" ] &&
    grep -q '^Package: kamailio-websocket-modules$' "$ROOT/repo/Packages" && return
  local rootfs=$ROOT/rootfs
  if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    log "debootstrap (minbase bookworm) from $(mirror)"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$(mirror)" >"$ROOT/debootstrap.log" 2>&1
  fi
  if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    tar -C "$rootfs" --numeric-owner -c . | docker import -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  fi
  log "collecting the packages the site image needs"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  chroot "$rootfs" apt-get update -qq >/dev/null
  chroot "$rootfs" apt-get install --download-only -y -qq kamailio kamailio-tls-modules kamailio-websocket-modules sip-tester iproute2 netbase >/dev/null
  mkdir -p "$ROOT/repo"
  cp "$rootfs"/var/cache/apt/archives/*.deb "$ROOT/repo/"
  (cd "$ROOT/repo" && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null)
}

site_image() {
  if docker image inspect $IMAGE >/dev/null 2>&1 && [ "$(docker image inspect -f '{{index .Config.Labels "geolab.dockerfile"}}' $IMAGE)" = "$(sha1sum "$HERE/Dockerfile" | cut -c1-12)" ]; then
    return
  fi
  log "building $IMAGE from compose/Dockerfile with a local package folder"
  # nsenter execs the server: $! is its PID
  nsenter --net=/run/netns/$NS python3 -m http.server 8080 --bind $BRIDGE_IP \
    --directory "$ROOT/repo" >/dev/null 2>&1 &
  SERVER_PID=$!
  trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 50); do
    in_ns python3 -c "import socket; socket.create_connection(('$BRIDGE_IP', 8080), 1)" 2>/dev/null && break
    sleep 0.1
  done
  docker build -q --build-arg APT_SOURCE="http://$BRIDGE_IP:8080/" \
    --label "geolab.dockerfile=$(sha1sum "$HERE/Dockerfile" | cut -c1-12)" -t $IMAGE "$HERE" >/dev/null
  kill $SERVER_PID 2>/dev/null || true
  wait $SERVER_PID 2>/dev/null || true
  trap - EXIT
}

down() {
  if [ -f "$ROOT/dockerd.pid" ]; then
    local pid
    pid=$(cat "$ROOT/dockerd.pid")
    if kill -0 "$pid" 2>/dev/null; then
      DOCKER_HOST=unix://$SOCK docker ps -q | xargs -r docker rm -f >/dev/null 2>&1 || true
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$ROOT/dockerd.pid"
  fi
  ip route del 198.18.0.0/16 2>/dev/null || true
  ip link del $HOST_IF 2>/dev/null || true
  ip netns list | grep -qw $NS && ip netns del $NS || true
  ip route del unreachable $POOL metric 4000 2>/dev/null || true
  rm -f "$SOCK"
}

case "${1:-}" in
  up)
    [ "$(id -u)" = 0 ] || { log "needs root"; exit 3; }
    install_tools
    network_up
    dockerd_up
    base_image
    site_image
    log "ready: DOCKER_HOST=$DOCKER_HOST"
    ;;
  down) down ;;
  env)
    echo "export DOCKER_HOST=unix://$SOCK"
    echo "export GEOLAB_ENGINE_HOST_IP=$HOST_IP"
    ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
