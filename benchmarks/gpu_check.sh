#!/usr/bin/env bash
# The GPU path, checked in one run of at most 8 minutes on a machine with an NVIDIA GPU.
#
#   benchmarks/gpu_check.sh [--raw-dir DIR] [--no-install] [--budget SECONDS]
#   benchmarks/gpu_check.sh --smoke          # the same steps on the CPU, cut short: checks the script itself
#
# In order, each step skipped (and said so) when the time left cannot hold it:
#   1. installs the project with a CUDA build of torch (a venv that sees the system's packages; a
#      CUDA torch already there is kept, else the cu126 wheel is installed from download.pytorch.org);
#   2. imports MNIST (from --raw-dir, else shared/datasets/mnist beside the checkout, else downloads it);
#   3. runs the CUDA-marked tests (pytest -m cuda);
#   4. trains the fastest recipe and the default recipe with --device cuda: float32 (--no-amp),
#      bfloat16 (--amp) and --amp --compile, and the public fast recipe (benchmarks/baseline_fast.py);
#   5. kills a run mid-epoch (SIGKILL, after a mid-epoch checkpoint) and resumes it to the end;
#   6. reports, per run, the training seconds to 99.0% and to 99.5% test accuracy (at epoch ends, from
#      metrics.jsonl) against the public anchor: 0.762 s to 99.0% on a laptop GTX 1660 Ti.
# Everything lands in $OUT (default ./gpu-check-out): summary.md, summary.json, one JSON per run, log.txt.
# The exit status is 0 when every step that ran passed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
BUDGET=480
SMOKE=0
INSTALL=1
RAW_DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1 ;;
        --no-install) INSTALL=0 ;;
        --raw-dir) RAW_DIR="$2"; shift ;;
        --budget) BUDGET="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")"
LOG="$OUT/log.txt"
STARTED=$(date +%s)
FAILED=0
: > "$OUT/results.jsonl"

say() { echo "[$(( $(date +%s) - STARTED ))s] $*" | tee -a "$LOG" >&2; }
left() { echo $(( BUDGET - ($(date +%s) - STARTED) )); }
fits() {  # fits SECONDS NAME: whether a step that may take SECONDS still fits in the budget
    if [ "$(left)" -lt "$1" ]; then
        say "SKIPPED $2: needs up to $1 s, $(left) s left"
        echo "{\"step\": \"$2\", \"skipped\": true}" >> "$OUT/results.jsonl"
        return 1
    fi
}
fail() { say "FAILED $*"; FAILED=1; }

if [ "$SMOKE" = 1 ]; then
    DEVICE=cpu
    INSTALL=0
    DATASET=(--dataset mnist-sample)
    SHORT=(--max-steps 12 --threads 1)  # a few steps of each run: the script's plumbing, not its figures
    AMP=(--no-amp)  # bf16 is emulated on most CPUs: minutes for these few steps (the *-amp runs are float32 here)
    COMPILE=0       # torch.compile on a CPU takes minutes (over 400 s here): only on a GPU
else
    DEVICE=cuda
    DATASET=(--dataset mnist)
    SHORT=()
    AMP=(--amp)
    COMPILE=1
fi
FASTEST=(--model quick --epochs 1 --lr 1.5e-2 --no-augment --val-split 0)  # = benchmarks/train_speed.py FASTEST
DEFAULT=()                                                   # `cnn train` as it comes: 8 epochs of base

# -- 1. install --------------------------------------------------------------------------------------
PY="${PYTHON:-python3}"
if [ "$INSTALL" = 1 ] && fits 240 install; then
    say "installing into $WORK/venv"
    "$PY" -m venv --system-site-packages "$WORK/venv" >> "$LOG" 2>&1 || fail "venv"
    PY="$WORK/venv/bin/python"
    if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.version.cuda else 1)' >> "$LOG" 2>&1; then
        say "no CUDA build of torch here: installing the cu126 wheel"
        "$PY" -m pip install -q torch torchvision --index-url https://download.pytorch.org/whl/cu126 >> "$LOG" 2>&1 \
            || fail "installing a CUDA build of torch"
    fi
    "$PY" -m pip install -q -e "$REPO[test]" >> "$LOG" 2>&1 \
        || "$PY" -m pip install -q --no-deps --no-build-isolation -e "$REPO" >> "$LOG" 2>&1 \
        || say "pip could not install the project (offline?): running it from the checkout"
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export NO_COLOR=1
"$PY" - > "$OUT/environment.json" 2>> "$LOG" <<'EOF'
import json, platform, torch
cuda = torch.cuda.is_available()
print(json.dumps({
    "torch": torch.__version__, "cuda_build": torch.version.cuda, "cuda_available": cuda,
    "gpu": torch.cuda.get_device_name(0) if cuda else None,
    "bf16": torch.cuda.is_bf16_supported() if cuda else None,
    "python": platform.python_version(),
}))
EOF
say "environment: $(cat "$OUT/environment.json")"
if [ "$SMOKE" = 0 ] && ! grep -q '"cuda_available": true' "$OUT/environment.json"; then
    fail "torch sees no CUDA GPU here"
    exit 1
fi
cnn() { "$PY" -m cnncli "$@"; }

# -- 2. data -----------------------------------------------------------------------------------------
export CNN_DATA_DIR="$WORK/data"
if [ "$SMOKE" = 0 ]; then
    [ -z "$RAW_DIR" ] && [ -d "$REPO/shared/datasets/mnist" ] && RAW_DIR="$REPO/shared/datasets/mnist"
    if [ -n "$RAW_DIR" ]; then
        cnn download mnist --from "$RAW_DIR" -q >> "$LOG" 2>&1 || fail "importing MNIST from $RAW_DIR"
    else
        cnn download mnist -q >> "$LOG" 2>&1 || fail "downloading MNIST"
    fi
fi

# -- 3. the CUDA-marked tests ------------------------------------------------------------------------
if fits 150 tests; then
    say "pytest -m cuda"
    if (cd "$REPO" && timeout 150 "$PY" -m pytest -m cuda -q -p no:cacheprovider tests/core/runtime/test_cuda.py) \
        > "$OUT/pytest-cuda.txt" 2>&1; then
        say "cuda tests: $(tail -1 "$OUT/pytest-cuda.txt")"
    else
        fail "cuda tests: $(tail -1 "$OUT/pytest-cuda.txt")"
    fi
fi

# -- 4. trainings ------------------------------------------------------------------------------------
train() {  # train LABEL LIMIT FLAGS...: one run; its JSON document and its metrics.jsonl rows go to $OUT
    local label="$1" limit="$2"; shift 2
    fits "$limit" "$label" || return 0
    say "train $label: cnn train $*"
    local started; started=$(date +%s%N)
    if timeout -k 10 "$limit" "$PY" -m cnncli train "${DATASET[@]}" "$@" "${SHORT[@]}" --device "$DEVICE" \
        --out "$WORK/runs" --name "$label" --json -q > "$OUT/$label.json" 2>> "$LOG"; then
        local wall=$(( ($(date +%s%N) - started) / 1000000 ))
        "$PY" - "$label" "$OUT/$label.json" "$WORK/runs/$label/metrics.jsonl" "$wall" "$*" >> "$OUT/results.jsonl" <<'EOF'
import json, sys
label, doc_path, metrics_path, wall, command = sys.argv[1:]
doc = json.load(open(doc_path))
rows = [json.loads(line) for line in open(metrics_path)] if doc["epochs_run"] else []
def first(target):
    hit = next((r for r in rows if (r.get("test_accuracy") or 0) >= target), None)
    return round(hit["elapsed"], 3) if hit else None
print(json.dumps({
    "step": label, "command": "cnn train " + command, "device": doc["device"], "amp": doc["amp"],
    "train_seconds": round(doc["train_seconds"], 3), "process_seconds": round(int(wall) / 1000, 1),
    "test_accuracy": doc["final"].get("test_accuracy"), "epochs": doc["epochs_run"],
    "seconds_to_99.0": first(0.990), "seconds_to_99.5": first(0.995),
}))
EOF
        say "  $(tail -1 "$OUT/results.jsonl")"
    else
        fail "train $label (exit $?; see log.txt)"
    fi
}
train fastest-fp32 90 "${FASTEST[@]}" --no-amp
train fastest-amp 90 "${FASTEST[@]}" "${AMP[@]}"
train default-amp 150 "${DEFAULT[@]}" "${AMP[@]}"
[ "$COMPILE" = 1 ] && train fastest-amp-compile 150 "${FASTEST[@]}" "${AMP[@]}" --compile
train default-fp32 150 "${DEFAULT[@]}" --no-amp
[ "$COMPILE" = 1 ] && train default-amp-compile 180 "${DEFAULT[@]}" "${AMP[@]}" --compile

if fits 90 public-fast-recipe; then
    raw="$CNN_DATA_DIR/mnist"
    if [ "$SMOKE" = 1 ]; then
        say "public fast recipe: skipped in --smoke (it needs the full MNIST files)"
    elif "$PY" "$HERE/baseline_fast.py" --raw-dir "$raw" --device "$DEVICE" --seed 0 > "$OUT/public-fast.json" 2>> "$LOG"; then
        tail -1 "$OUT/public-fast.json" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); d["step"]="public-fast-recipe"; print(json.dumps(d))' >> "$OUT/results.jsonl"
        say "  public fast recipe: $(tail -1 "$OUT/public-fast.json")"
    else
        fail "public fast recipe"
    fi
fi

# -- 5. a run killed mid-epoch, resumed --------------------------------------------------------------
if fits 120 kill-and-resume; then
    say "kill a run mid-epoch, then resume it"
    # batch 32: 1,875 steps an epoch, long enough on any GPU for a checkpoint inside it (every 0.6 s)
    KILLED=(--model fast --epochs 2 --batch-size 32 --checkpoint-minutes 0.01 --no-augment)
    [ "$SMOKE" = 1 ] && KILLED=(--model tiny --epochs 2 --batch-size 20 --checkpoint-minutes 0.01 --threads 1)
    # no `timeout` wrapper here: $! must be the trainer itself, which SIGKILL reaches (timeout does not pass it on)
    "$PY" -m cnncli train "${DATASET[@]}" "${KILLED[@]}" --device "$DEVICE" --out "$WORK/runs" \
        --name killed -q >> "$LOG" 2>&1 &
    pid=$!
    state="$WORK/runs/killed/state.toml"
    for _ in $(seq 1 900); do  # at most 90 s
        if [ -f "$state" ] && grep -Eq '^step_in_epoch = [1-9]' "$state"; then break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ -f "$state" ] && grep -Eq '^step_in_epoch = [1-9]' "$state"; then
        at=$(grep -E '^(epoch|step_in_epoch|step) = ' "$state" | tr '\n' ' ')
        say "  killed (SIGKILL) with the state at: $at"
        if timeout -k 10 100 "$PY" -m cnncli train --resume "$WORK/runs/killed" --json -q > "$OUT/resumed.json" 2>> "$LOG"; then
            "$PY" - "$OUT/resumed.json" "$at" >> "$OUT/results.jsonl" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
ok = doc["stopped"] == "completed" and doc["epochs_run"] == 2
print(json.dumps({"step": "kill-and-resume", "killed_at": sys.argv[2].strip(), "ok": ok, "device": doc["device"],
                  "epochs": doc["epochs_run"], "steps": doc["steps"], "test_accuracy": doc["final"].get("test_accuracy")}))
sys.exit(0 if ok else 1)
EOF
            [ $? = 0 ] && say "  resumed to the end: $(tail -1 "$OUT/results.jsonl")" || fail "the resumed run did not complete"
        else
            fail "resume after the kill"
        fi
    else
        fail "no mid-epoch checkpoint appeared before the run ended"
    fi
fi

# -- 6. the report -----------------------------------------------------------------------------------
"$PY" - "$OUT" "$(( $(date +%s) - STARTED ))" "$FAILED" <<'EOF'
import json, sys
from pathlib import Path
out, seconds, failed = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
ANCHOR = 0.762  # s to 99.0%: the public fast recipe's published figure on a laptop GTX 1660 Ti
env = json.loads((out / "environment.json").read_text())
rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
lines = [f"# GPU check: {env.get('gpu') or 'no GPU (smoke run on the CPU)'}", "",
         f"torch {env['torch']} (CUDA {env['cuda_build']}), {seconds} s in all, "
         f"{'some step FAILED' if failed else 'every step that ran passed'}", "",
         "| run | test accuracy | training s | s to 99.0% | vs 0.762 s anchor | s to 99.5% |", "|---|---|---|---|---|---|"]
for r in rows:
    if "train_seconds" not in r:
        continue
    to99 = r.get("seconds_to_99.0")
    if r["step"] == "public-fast-recipe" and (r.get("test_accuracy") or 0) >= 0.99:
        to99 = r["train_seconds"]
    ratio = f"{to99 / ANCHOR:.2f}x" if to99 else "-"
    acc = f"{100 * r['test_accuracy']:.2f}%" if r.get("test_accuracy") is not None else "-"
    lines.append(f"| {r['step']} | {acc} | {r['train_seconds']} | {to99 or '-'} | {ratio} | {r.get('seconds_to_99.5') or '-'} |")
lines += [""] + [f"- {r['step']}: " + ("skipped (time)" if r.get("skipped") else json.dumps(r))
                 for r in rows if "train_seconds" not in r]
(out / "summary.md").write_text("\n".join(lines) + "\n")
(out / "summary.json").write_text(json.dumps({"environment": env, "seconds": seconds, "failed": failed,
                                              "anchor_seconds_to_99": ANCHOR, "results": rows}, indent=2))
print("\n".join(lines))
EOF
rm -rf "$WORK"
exit "$FAILED"
