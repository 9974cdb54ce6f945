#!/bin/sh
# The spread over training seeds of guided policy search (docs/RESULTS.md, "Learning to
# optimize (Li & Malik)"): seeds 1 and 2 (seed 0 is scripts/rl-results.sh for the earlier GPS
# and scripts/rl-results-gps.sh for Levine et al.'s), each trained both ways, one run after
# another, each policy evaluated on the same 50 fresh instances (seed 0) as the tables.
# Reports go to docs/results/rl-seeds/.
set -e
mkdir -p runs/rl docs/results/rl-seeds
POLICY="--history 10 --hidden 20 --init-lr 0.3 --init-std 0.05"
EARLIER="--dynamics-prior pooled --kl-estimate samples --step-rule fixed"
one() { # NAME TASK TASK-CONFIG SEED VARIANT FLAGS...
  N=$1; T=$2; C=$3; S=$4; V=$5; shift 5
  nice -n 10 node bin/l2o.js rl train --task $T --task-config "$C" --trainer gps --steps 100 --iterations 8 --batch 6 --samples 4 --lr 0.01 $POLICY --seed $S "$@" \
    --out runs/rl/$N-gps-$V-seed$S.safetensors --json > docs/results/rl-seeds/$N-gps-$V-seed$S-train.json
  nice -n 10 node bin/l2o.js rl eval runs/rl/$N-gps-$V-seed$S.safetensors --evals 100 --instances 50 --seed 0 --baselines lbfgs \
    --out docs/results/rl-seeds/$N-gps-$V-seed$S.json --quiet > /dev/null
}
for S in 1 2; do
  for V in levine earlier; do
    if [ $V = earlier ]; then F=$EARLIER; else F=""; fi
    one logistic-regression-2d logistic-regression '{"dim":2,"bias":false}' $S $V $F
    one logistic-regression logistic-regression '{}' $S $V $F
    one robust-regression robust-regression '{}' $S $V $F
    one clustered-mlp clustered-mlp '{}' $S $V $F
  done
done
