#!/bin/bash
# DeepSpeed ZeRO-2, ZeRO-3 and FSDP for a few steps on one device (llmft train --nproc 1), one line each:
#   "<name>: ran (...)", "<name>: skipped (why)" or "<name>: failed (why)".
# Usage: bash bench/gpu_dist_check.sh [MODEL]   (MODEL: a model folder or alias; default llmft-tiny)
# Needs a python3 (or $PYTHON) that imports llmft (PYTHONPATH=repo root) with torch, transformers, peft, accelerate;
# deepspeed is optional: without it the two ZeRO lines say skipped.
model=${1:-llmft-tiny}; py=${PYTHON:-python3}
tmp=$(mktemp -d)
base=(train examples/identity_lora.yaml "model=$model" template=smollm2 max_steps=3 save_steps=2 logging_steps=1
      per_device_train_batch_size=4 cutoff_len=128 disable_gradient_checkpointing=true plot_loss=false --nproc 1)
dev=$($py -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")' 2>/dev/null)
has_ds=$($py -c 'import deepspeed' >/dev/null 2>&1 && echo yes)
check() {  # name, key=value selecting the backend, needs deepspeed (yes/no)
  local name=$1 key=$2 out=$tmp/$1
  if [ "$3" = yes ] && [ -z "$has_ds" ]; then echo "$name: skipped (deepspeed is not installed: pip install deepspeed, or put its wheel in .whl/)"; return; fi
  if [ "$3" = yes ] && [ "$dev" = cpu ]; then echo "$name: skipped (no CUDA device; DeepSpeed needs one)"; return; fi
  timeout 75 $py -c 'from llmft.cli import main; main()' "${base[@]}" "$key" "output_dir=$out" >"$tmp/$name.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] && [ -f "$out/result.json" ]; then
    $py - "$out" "$name" "$dev" <<'PY'
import json, sys
from pathlib import Path
out, name, dev = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
r = json.loads((out/'result.json').read_text())
cks = sorted(p.name for p in out.glob('checkpoint-*') if (p/'trainer_state.json').exists())
left = [p.name for p in out.glob('.tmp-*')]
print(f"{name}: ran ({r['steps']} steps on {dev}, {r['precision']}, final loss {r['final_loss']:.4f}, checkpoints {', '.join(cks) or 'none'}"
      + (f", LEFTOVER {left}" if left else '') + ')')
PY
  else
    echo "$name: failed (exit $rc on $dev: $(grep -E 'Error|error' "$tmp/$name.log" | grep -v Warning | tail -1 | cut -c1-300))"
  fi
}
check ds_z2 deepspeed=examples/deepspeed/ds_z2.json yes
check ds_z3 deepspeed=examples/deepspeed/ds_z3.json yes
check fsdp fsdp_config=examples/fsdp_config.json no
