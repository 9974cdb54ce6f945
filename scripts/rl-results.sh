#!/bin/sh
# Li & Malik's comparison (docs/RESULTS.md, "Learning to optimize (Li & Malik)"): per task a
# policy trained by policy gradient and one by guided policy search (same policy, same start),
# a short LSTM training on the same task, then all of them beside tuned gradient descent,
# momentum and Adam, conjugate gradient and L-BFGS on 50 fresh instances, 100 objective
# evaluations each; and the same on the 2-parameter logistic regression, with the paths drawn.
# The tasks run in parallel. Files go to runs/rl/, reports to docs/results/rl-*.json, figures
# to docs/figures/rl-*.svg.
set -e
mkdir -p runs/rl docs/results docs/figures
POLICY="--history 10 --hidden 20 --init-lr 0.3 --init-std 0.05 --seed 0"
one() { # NAME TASK TASK-CONFIG [EXTRA EVAL FLAGS]
  N=$1; T=$2; C=$3; shift 3
  node bin/l2o.js rl train --task $T --task-config "$C" --trainer pg --steps 100 --iterations 100 --batch 16 --lr 0.003 $POLICY --out runs/rl/$N-pg.safetensors --quiet
  # The GPS of this table: a pooled dynamics prior, the KL at the sampled states, a fixed step
  # (scripts/rl-results-gps.sh runs Levine et al.'s pieces, the defaults now).
  node bin/l2o.js rl train --task $T --task-config "$C" --trainer gps --steps 100 --iterations 8 --batch 6 --samples 4 --lr 0.01 $POLICY \
    --dynamics-prior pooled --kl-estimate samples --step-rule fixed --out runs/rl/$N-gps.safetensors --quiet
  node bin/l2o.js train --task $T --task-config "$C" --horizon 100 --unroll 20 --epochs 10 --horizons-per-epoch 20 --seed 0 --out runs/rl/$N-lstm.safetensors --quiet
  node bin/l2o.js rl eval runs/rl/$N-gps.safetensors --evals 100 --instances 50 --seed 0 \
    --baselines rl:runs/rl/$N-pg.safetensors,sgd,momentum,adam,lstm:runs/rl/$N-lstm.safetensors,cg,lbfgs \
    --out docs/results/rl-$N.json --plot docs/figures/rl-$N.svg "$@" --quiet
}
one logistic-regression logistic-regression '{}' > runs/rl/logistic-regression.log 2>&1 &
one robust-regression robust-regression '{}' > runs/rl/robust-regression.log 2>&1 &
one clustered-mlp clustered-mlp '{}' > runs/rl/clustered-mlp.log 2>&1 &
one logistic-regression-2d logistic-regression '{"dim":2,"bias":false}' --paths docs/figures/rl-logistic-regression-2d-paths.svg > runs/rl/logistic-regression-2d.log 2>&1 &
wait
