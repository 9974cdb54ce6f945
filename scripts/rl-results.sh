#!/bin/sh
# Li & Malik's comparison (docs/RESULTS.md, "Learning to optimize (Li & Malik)"): per task a
# policy trained by policy gradient and one by guided policy search (same policy, same start),
# a short LSTM training on the same task, then all of them beside tuned gradient descent,
# momentum and Adam, conjugate gradient and L-BFGS on 50 fresh instances, 100 objective
# evaluations each. Files go to runs/rl/, reports to docs/results/rl-TASK.json.
set -e
TASKS=${TASKS:-"logistic-regression robust-regression clustered-mlp"}
mkdir -p runs/rl docs/results
POLICY="--history 10 --hidden 20 --init-lr 0.3 --init-std 0.05 --seed 0"
for T in $TASKS; do
  node bin/l2o.js rl train --task $T --trainer pg --steps 100 --iterations 150 --batch 16 --lr 0.003 $POLICY --out runs/rl/$T-pg.safetensors --quiet
  node bin/l2o.js rl train --task $T --trainer gps --steps 100 --iterations 12 --batch 8 --samples 5 --lr 0.01 $POLICY --out runs/rl/$T-gps.safetensors --quiet
  node bin/l2o.js train --task $T --horizon 100 --unroll 20 --epochs 10 --horizons-per-epoch 20 --seed 0 --out runs/rl/$T-lstm.safetensors --quiet
  node bin/l2o.js rl eval runs/rl/$T-gps.safetensors --evals 100 --instances 50 --seed 0 \
    --baselines rl:runs/rl/$T-pg.safetensors,sgd,momentum,adam,lstm:runs/rl/$T-lstm.safetensors,cg,lbfgs \
    --out docs/results/rl-$T.json --quiet
done
