#!/bin/sh
# Guided policy search as Levine et al. run it (docs/RESULTS.md, "Learning to optimize (Li &
# Malik)"): the GPS trainings of scripts/rl-results.sh again, with the Gaussian-mixture
# dynamics prior, the KL through the fitted model and the adaptive step (the defaults of
# `l2o rl train --trainer gps`), one task after another, each policy evaluated on the same 50
# fresh instances beside the best baseline of the earlier table (its row there is unchanged:
# the same instances, the same tuning). Files go to runs/rl/, the training summaries and
# reports to docs/results/rl-*-gps-levine*.json.
set -e
mkdir -p runs/rl docs/results
POLICY="--history 10 --hidden 20 --init-lr 0.3 --init-std 0.05 --seed 0"
one() { # NAME TASK TASK-CONFIG BEST-BASELINE
  N=$1; T=$2; C=$3; B=$4
  nice -n 10 node bin/l2o.js rl train --task $T --task-config "$C" --trainer gps --steps 100 --iterations 8 --batch 6 --samples 4 --lr 0.01 $POLICY \
    --out runs/rl/$N-gps-levine.safetensors --json > docs/results/rl-$N-gps-levine-train.json
  nice -n 10 node bin/l2o.js rl eval runs/rl/$N-gps-levine.safetensors --evals 100 --instances 50 --seed 0 --baselines $B \
    --out docs/results/rl-$N-gps-levine.json --quiet
}
one logistic-regression-2d logistic-regression '{"dim":2,"bias":false}' lbfgs
one logistic-regression logistic-regression '{}' lbfgs
one robust-regression robust-regression '{}' adam
one clustered-mlp clustered-mlp '{}' lbfgs
