# Sourced by scripts/bench-downtime and scripts/bench-real-store: what both
# downtime benchmarks share (timing, medians, the loop file system, the
# structr-backup configuration per repository kind, the table rows). Expects
# BIN (structr-backup), DIR (the bench folder) and, per file system, W (its work
# folder), SRC (the sources: SRC/neo4j/data, SRC/structr), NEO4J_CMDS and
# STRUCTR_CMDS (the custom installation's `{ start, stop, status }` tables).

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
add_secs() { python3 -c 'import sys; print(f"{sum(map(float, sys.argv[1:])):.2f}")' "$@"; }
median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.2f}")' "$@"; }

# Loop file system of kind $1 (ext4, or xfs with reflink=1) of $2 MiB, mounted
# on $3; the image is DIR/fs-<kind>.img (bench_cleanup removes it).
bench_mount() {
    local img=$DIR/fs-$1.img
    rm -f "$img"
    truncate -s "$2M" "$img"
    case "$1" in
        xfs) mkfs.xfs -q -m reflink=1 "$img" ;;
        ext4) mkfs.ext4 -q -F "$img" ;;
        *) echo "--fs: ext4 or xfs, not $1" >&2; exit 2 ;;
    esac
    mkdir -p "$3"
    mount -o loop "$img" "$3"
}

# Unmounts $MNT when mounted and removes the loop images (the EXIT trap).
bench_cleanup() {
    if [ -n "${MNT:-}" ] && mountpoint -q "$MNT"; then umount "$MNT" || umount -l "$MNT"; fi
    rm -f "$DIR"/fs-*.img
}

bench_config() { # kind, repository, staging folder → config path
    local cfg=$W/config-$1.toml
    {
        echo "[repository]"
        echo "kind = \"$1\""
        echo "path = \"$2\""
        if [ "$1" = restic ]; then
            echo "password_file = \"$W/restic-password\""
        else
            echo "compression_level = 3"
            echo "threads = 0"
        fi
        cat <<CFG
[staging]
folder = "$3"
[installation]
kind = "custom"
neo4j_data = "$SRC/neo4j/data"
structr_dir = "$SRC/structr"
neo4j = $NEO4J_CMDS
structr = $STRUCTR_CMDS
CFG
    } > "$cfg"
    echo "$cfg"
}

timing() { # config, key of the manifest's timings → the newest generation's value in seconds
    "$BIN" --config "$1" show latest --json |
        python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["timings"][sys.argv[1]])' "$2"
}

# The archive kind's older generations go (disk space); the newest stays as the
# next run's previous one.
prune_to_newest() { # config
    "$BIN" --config "$1" list --json | python3 -c 'import json,sys; [print(g["id"]) for g in json.load(sys.stdin)[1:]]' |
        while read -r old; do "$BIN" --config "$1" --yes delete "$old" >/dev/null 2>&1; done
}

# A table row from the associative array T: label, key, the key of the
# divisor's times (the limit). Prints median, the single runs and the ratio.
bench_row() {
    local m d
    m=$(median ${T[$2]})
    d=$(median ${T[$3]})
    printf '| %s | %s | %s | %s |\n' "$1" "$m" "${T[$2]# }" \
        "$(python3 -c "import sys; print(f'{float(sys.argv[1]) / max(float(sys.argv[2]), 0.01):.1f}×')" "$m" "$d")"
}

# Builds the release binaries and sets BIN and STANDIN (CARGO_TARGET_DIR honoured).
bench_build() {
    cargo build --release --quiet
    BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/structr-backup
    STANDIN=${CARGO_TARGET_DIR:-$PWD/target}/release/structr-standin
}

# The limit: only the files written since the last copy (W/limit.stamp), into a
# fresh MNT/limit on the sources' file system, then sync. Prints the seconds.
bench_limit() {
    local t0 t1
    rm -rf "$MNT/limit"
    mkdir "$MNT/limit"
    touch "$W/limit.next"
    t0=$(now)
    (cd "$SRC" && find . -type f -newer "$W/limit.stamp" -print0 | xargs -0 -r cp --parents -t "$MNT/limit")
    sync -f "$MNT"
    t1=$(now)
    mv "$W/limit.next" "$W/limit.stamp"
    secs "$t0" "$t1"
}
