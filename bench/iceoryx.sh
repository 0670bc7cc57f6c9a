#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# framebus against iceoryx on the same workload (1920x1080 yuv420p, the
# writer copies each frame in, every reader checksums it): `framebus bench`
# and bench_iceoryx in alternating pairs, 3 rounds of each case, each pair
# under the machine's benchmark lock, with the ratio framebus/iceoryx and
# the load average. Cases: 4 lossless readers flat out, 1 lossless reader
# flat out, 1 lossless reader paced at 60 fps (latency).
#
#   bench/iceoryx.sh [BUILD-DIR]      (default: build; ROUNDS=3 DUR=3 OUT=dir)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
fb=$build/tools/framebus
ice=$build/bench/bench_iceoryx
rounds=${ROUNDS:-3}
dur=${DUR:-3}
lock=/tmp/framebus-bench.lock
out=${OUT:-$(mktemp -d /tmp/framebus-iceoryx-bench.XXXXXX)}
mkdir -p "$out"
for p in "$fb" "$ice"; do
    if [ ! -x "$p" ]; then
        echo "iceoryx.sh: $p not found (build it: cmake --build $build; bench_iceoryx needs" \
             "libiceoryx-binding-c-dev and iceoryx)" >&2
        exit 1
    fi
done

failed=0

# field FILE AWK-CONDITION COLUMN: the column of the first matching line.
field() { awk "$2 { print \$$3; exit }" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
load() { uptime | sed 's/.*load average: //'; }

# run NAME FILE CMD...: one measurement, its output kept in $out.
run() {
    local name=$1 file=$2
    shift 2
    echo "\$ $*" >"$out/$file"
    if ! "$@" >>"$out/$file" 2>"$out/$file.err"; then
        echo "  $name failed: $(tail -1 "$out/$file.err") (see $out/$file.err)" >&2
        failed=1
        return 1
    fi
}

# pair ROUND CASE LABEL FB-ARGS -- ICE-ARGS: both, under the lock, the
# order swapped every round so that drift hits both alike.
pair() {
    local r=$1 case=$2 label=$3 fbargs=() iceargs=()
    shift 3
    while [ "$1" != -- ]; do fbargs+=("$1"); shift; done
    shift
    iceargs=("$@")
    exec 9>"$lock"
    flock 9
    local before
    before=$(load)
    if [ $((r % 2)) = 1 ]; then
        run framebus "$case-$r.framebus" "$fb" bench "${fbargs[@]}"
        run iceoryx "$case-$r.iceoryx" "$ice" "${iceargs[@]}"
    else
        run iceoryx "$case-$r.iceoryx" "$ice" "${iceargs[@]}"
        run framebus "$case-$r.framebus" "$fb" bench "${fbargs[@]}"
    fi
    echo "load before: $before, after: $(load)" >>"$out/$case-$r.load"
    flock -u 9
    exec 9>&-
    report "$r" "$case" "$label" "$before"
}

# The line of one pair: writer rates flat out, latencies paced.
report() {
    local r=$1 case=$2 label=$3 before=$4 f="$out/$2-$1.framebus" i="$out/$2-$1.iceoryx"
    [ -s "$f" ] && [ -s "$i" ] || return 0
    if [ "$case" = paced ]; then
        local fp50 fp99 ip50 ip99 fcpu icpu
        fp50=$(field "$f" '$1=="bus" && $2=="reader" && $3=="1"' 10)
        fp99=$(field "$f" '$1=="bus" && $2=="reader" && $3=="1"' 11)
        ip50=$(field "$i" '$1=="iceoryx" && $2=="reader" && $3=="1"' 10)
        ip99=$(field "$i" '$1=="iceoryx" && $2=="reader" && $3=="1"' 11)
        fcpu=$(field "$f" '/^bus readers. CPU/' 4)
        icpu=$(field "$i" '/^iceoryx readers. CPU/' 4)
        printf '%d  %-22s p50 %7s / %7s us = %5sx   p99 %7s / %7s us = %5sx   reader CPU %s / %s   load %s\n' \
            "$r" "$label" "$fp50" "$ip50" "$(ratio "$fp50" "$ip50")" \
            "$fp99" "$ip99" "$(ratio "$fp99" "$ip99")" "$fcpu" "$icpu" "$before"
    else
        local ff if_
        ff=$(field "$f" '$1=="bus" && $2=="writer"' 4)
        if_=$(field "$i" '$1=="iceoryx" && $2=="writer"' 4)
        printf '%d  %-22s %8s / %8s frames/s = %5sx   load %s\n' "$r" "$label" "$ff" "$if_" \
            "$(ratio "$ff" "$if_")" "$before"
    fi
}

echo "framebus / iceoryx, 1920x1080 yuv420p, $rounds rounds; outputs in $out"
echo "round  case  framebus / iceoryx = ratio (flat out: writer frames/s; paced: latency)"
for r in $(seq 1 "$rounds"); do
    pair "$r" lossless4 "4 lossless readers" --readers 4 --policy lossless --seconds "$dur" \
        -- --readers 4 --policy lossless --seconds "$dur"
    pair "$r" lossless1 "1 lossless reader" --readers 1 --policy lossless --seconds "$dur" \
        -- --readers 1 --policy lossless --seconds "$dur"
    pair "$r" paced "paced 60 fps, 1 reader" --readers 1 --policy lossless --fps 60 --seconds 4 --rounds 1 \
        -- --readers 1 --policy lossless --fps 60 --seconds 4 --rounds 1
done
exit $failed
