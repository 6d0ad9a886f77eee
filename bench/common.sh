# Shared by the step benchmarks (bench/train/run, bench/citris/run): set-up, and rounds
# that alternate our program and its PyTorch reference. Source it from a bench script
# after setting ROOT; it reads ROUNDS, REF_TUNED and OUT.

# glibc settings equal to nn::device::tune_allocator's.
TUNED_MALLOC=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824
              MALLOC_TOP_PAD_=67108864)
PYTHON="$ROOT/.venv/bin/python"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OURS="$TARGET/release/causalgen"
# The rpath in .cargo/config.toml assumes target/ in the repository.
export LD_LIBRARY_PATH="$ROOT/.venv/site-packages/torch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

say() { printf '==> %s\n' "$*" >&2; }

# torch in .venv (idempotent) and our release binary.
build() {
    say "scripts/setup-torch"
    scripts/setup-torch
    say "cargo build --release -p causalgen"
    cargo build --release -p causalgen
}

# alternate_rounds CONFIG SUBCOMMAND REFERENCE ARGS...: ROUNDS rounds, each running
# `causalgen bench SUBCOMMAND ARGS` and `REFERENCE ARGS` (and, with REF_TUNED=1, the
# reference under our malloc settings), alternating so that all see the same
# background load; results in $OUT/CONFIG.{ours,ref,reftuned}.ROUND.json.
alternate_rounds() {
    local config="$1" subcommand="$2" reference="$3"
    shift 3
    local round
    for round in $(seq 1 "$ROUNDS"); do
        say "$config round $round/$ROUNDS: causalgen bench $subcommand"
        "$OURS" bench "$subcommand" "$@" > "$OUT/$config.ours.$round.json"
        say "$config round $round/$ROUNDS: $reference (PyTorch)"
        "$PYTHON" "$reference" "$@" > "$OUT/$config.ref.$round.json"
        if [[ "$REF_TUNED" == 1 ]]; then
            say "$config round $round/$ROUNDS: $reference (PyTorch) with our malloc settings"
            env "${TUNED_MALLOC[@]}" "$PYTHON" "$reference" "$@" > "$OUT/$config.reftuned.$round.json"
        fi
    done
}
