#!/usr/bin/env bash
# Install the Debian 12 packages framebus needs to build, test and run.
# Does nothing when they are all there; needs root (or sudo) otherwise.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang
      libsdl2-dev libx11-dev libavcodec-dev libavformat-dev libswscale-dev libavutil-dev
      libcmocka-dev ffmpeg xvfb xauth
      gnuplot-nox    # the plot of `framebus bench --sweep`
      python3-dev python3-numpy python3-pytest python3-opencv  # python/
      libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev   # gst/
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-tools
      libiceoryx-binding-c-dev iceoryx)  # bench/bench_iceoryx: the iceoryx comparison
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
