#!/bin/bash
# The GPU checks in one go, on a machine with an NVIDIA GPU and a python3 that has torch, transformers, peft and accelerate.
# Packages it lacks can be given as wheels in .whl/ (installed into /tmp/site); the tiny model folder is .gpu/tiny
# (a copy of llmft.registry.build_tiny()). Usage: bash bench/gpu_run.sh [OUTDIR]
out=${1:-/tmp/gpu_check}; mkdir -p "$out"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 LLMFT_HOME=/tmp/llmft_home
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c 'import torch, transformers, peft, accelerate; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "accelerate", accelerate.__version__)' | tee -a "$out/gpu.txt"
timeout 540 python3 bench/gpu_check.py --model .gpu/tiny 2>&1 | tee "$out/gpu_check.log"
if [ -f bench/gpu_dist_check.sh ]; then timeout 240 bash bench/gpu_dist_check.sh .gpu/tiny 2>&1 | tee "$out/gpu_dist_check.log"; fi
timeout 240 python3 bench/gpu_stages.py --model .gpu/tiny 2>"$out/gpu_stages.err" | grep -E '^[a-z]+ .* (ran|FAILED)|failed$' | tee "$out/gpu_stages.log"
timeout 200 python3 bench/memory_estimate.py --gpu --model .gpu/tiny 2>&1 | tail -20 | tee "$out/memory_estimate_gpu.log"
