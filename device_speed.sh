#!/bin/bash
# One-off device check for issue 13 §2/§3 (not committed): 2 idle cores pinned with taskset, CPU only.
export CUDA_VISIBLE_DEVICES="" PYTHONPATH=$PWD GRADER_CACHE=/tmp/gcache
python -V; nproc; which bwrap; uptime
python -c "import torch, pydantic, nbclient, jupyter_client, ipykernel, psutil, pandas, jinja2, yaml, rich, safetensors, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" || { echo MISSING DEPS; pip list 2>/dev/null | head -80; exit 3; }
S=$(date +%s)
timeout 150 taskset -c 0,1 python -m grader.cli data synth imdb glove smsa indobert > $OUT/synth.txt 2>&1; echo "synth rc=$? $(( $(date +%s) - S )) s" | tee -a $OUT/synth.txt
timeout 200 taskset -c 0,1 python benchmarks/class_time.py --exercise conv1d gru rnn_lm --workers 1 2 > $OUT/light.json 2> $OUT/light.err; echo "light rc=$?"
python -c "import json; d=json.load(open('$OUT/light.json')); print(json.dumps(d['summary'])); [print(r['workers'], r['wall_s'], r['cpu_s'], r['load_1min']) for r in d['runs']]" 
uptime
mkdir -p /tmp/keep
timeout 330 taskset -c 0,1 python benchmarks/class_time.py --workers 2 --keep /tmp/keep > $OUT/class2.json 2> $OUT/class2.err; echo "class rc=$?"
tail -c 1500 $OUT/class2.json; tail -5 $OUT/class2.err
cd /tmp/keep && find . -name '*.json' -o -name grades.csv | tar czf $OUT/class2_results.tgz -T - ; ls -la $OUT
