#!/usr/bin/env bash
# Makes a container runtime and the test image available for the container tests (test/integration/container.test.ts).
# Idempotent: where docker or podman already answers, nothing is installed or configured; the test image is built
# only when it is missing (its root file system is cached outside the repository, so a rerun takes seconds).
# No container registry is reachable from CI here: the image is built offline from Debian's packages.
# Never fails CI on its own: when no runtime can be set up it says why, and the container tests then skip, saying so.
set -uo pipefail

IMAGE="${REPRO_GATE_TEST_IMAGE:-localhost/repro-gate-test:bookworm}"
CACHE_DIR="${REPRO_GATE_TEST_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/repro-gate/container-image}"
PACKAGES="python3,python3-venv,python3-pip,python3-numpy,python3-sklearn"
# Fixed, so the same packages give the same root file system tarball and the same image ID.
export SOURCE_DATE_EPOCH=1700000000

say() { echo "setup-container-runtime: $*"; }

answers() { "$1" info >/dev/null 2>&1; }

runtime() {
  if [ -n "${REPRO_GATE_CONTAINER_RUNTIME:-}" ]; then
    answers "$REPRO_GATE_CONTAINER_RUNTIME" && echo "$REPRO_GATE_CONTAINER_RUNTIME"
    return
  fi
  for candidate in docker podman; do
    if command -v "$candidate" >/dev/null 2>&1 && answers "$candidate"; then
      echo "$candidate"
      return
    fi
  done
}

install_podman() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "no docker or podman answers, and podman can only be installed here as root with apt-get"
    return 1
  fi
  say "installing podman, runc and mmdebstrap from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap >/dev/null || return 1
}

# The hosts mix cgroup v1 and v2: runc handles both (crun does not everywhere); without the ulimits, runc cannot
# start a container here ("error setting rlimit"). Written only where no configuration exists yet.
configure_podman() {
  if [ "$(id -u)" != 0 ] || [ -s /etc/containers/containers.conf ]; then
    return 1
  fi
  say "writing /etc/containers/containers.conf (runc, ulimits)"
  mkdir -p /etc/containers
  cat >/etc/containers/containers.conf <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
}

starts() { "$1" run --rm --pull never --network none "$IMAGE" true >/dev/null 2>&1; }

build_image() {
  local tool="$1" tarball="$CACHE_DIR/rootfs-bookworm.tar"
  if "$tool" image exists "$IMAGE" >/dev/null 2>&1 || "$tool" image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE is present ($tool)"
    return 0
  fi
  mkdir -p "$CACHE_DIR"
  if [ ! -s "$tarball" ]; then
    if ! command -v mmdebstrap >/dev/null 2>&1; then
      say "mmdebstrap is missing: cannot build $IMAGE"
      return 1
    fi
    say "building the root file system of $IMAGE with mmdebstrap (1-2.5 min, cached in $CACHE_DIR)"
    local partial="$CACHE_DIR/rootfs-bookworm.partial.tar"
    # Written under another name and renamed: an interrupted build never leaves a tarball that looks complete.
    mmdebstrap --quiet --format=tar --variant=minbase --include="$PACKAGES" --skip=output/mknod \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
      bookworm "$partial" || return 1
    mv "$partial" "$tarball"
  fi
  say "importing $IMAGE into $tool"
  "$tool" import --quiet "$tarball" "$IMAGE" >/dev/null || return 1
}

tool="$(runtime)"
if [ -z "$tool" ]; then
  if [ -n "${REPRO_GATE_CONTAINER_RUNTIME:-}" ]; then
    say "REPRO_GATE_CONTAINER_RUNTIME=$REPRO_GATE_CONTAINER_RUNTIME does not answer; the container tests will skip"
    exit 0
  fi
  install_podman || { say "no container runtime could be set up; the container tests will skip"; exit 0; }
  tool="$(runtime)"
  if [ -z "$tool" ]; then
    say "podman was installed but does not answer (podman info fails); the container tests will skip"
    exit 0
  fi
fi
say "container runtime: $tool"
if ! build_image "$tool"; then
  say "the test image $IMAGE could not be built; the container tests will skip"
  exit 0
fi
if ! starts "$tool"; then
  if [ "$tool" = podman ] && configure_podman && starts "$tool"; then
    say "podman starts containers now"
  else
    say "$tool cannot start a container of $IMAGE here; the container tests will skip"
  fi
fi
exit 0
