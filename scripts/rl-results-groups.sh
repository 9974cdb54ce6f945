#!/bin/sh
# Guided policy search past the dense controllers' limit (docs/RESULTS.md, "Learning to
# optimize (Li & Malik)", "GPS with controllers on the feature state"): the two-layer
# classifier on clustered data widened to 16 inputs and 16 hidden units (306 parameters, which
# `--controller-state x` refuses), trained by GPS with one controller per tensor over each
# coordinate's history features (`--controller-state features --groups tensors`), by policy
# gradient at full training (100 iterations) and at about GPS's evaluation budget (14), the same
# policy and start as scripts/rl-results.sh; then all three beside tuned gradient descent,
# momentum and Adam, conjugate gradient and L-BFGS on 50 fresh instances, 100 objective
# evaluations each; the GPS training again at seeds 1 and 2 and with one group. Then the feature-state GPS on two of the small tasks of scripts/rl-results.sh
# (same flags as its GPS), evaluated on the same 50 instances as those tables, and the untrained
# policy every training starts from on each task's instances. One process at a
# time, niced. Policies go to runs/rl/, training summaries and reports to
# docs/results/rl-*-groups*.json; tables: npx tsx scripts/rl_table.ts REPORT.json.
set -e
mkdir -p runs/rl docs/results docs/figures
L2O="nice -n 10 node bin/l2o.js"
POLICY="--history 10 --hidden 20 --init-lr 0.3 --init-std 0.05 --seed 0"
GPS="--trainer gps --controller-state features --groups tensors --steps 100 --iterations 8 --batch 6 --samples 4 --lr 0.01"
N=clustered-mlp-306
C='{"dim":16,"hidden":16}'
$L2O rl train --task clustered-mlp --task-config "$C" $GPS $POLICY --out runs/rl/$N-gps-features.safetensors --json > docs/results/rl-$N-gps-features-train.json
$L2O rl train --task clustered-mlp --task-config "$C" --trainer pg --steps 100 --iterations 100 --batch 16 --lr 0.003 $POLICY --out runs/rl/$N-pg.safetensors --quiet
$L2O rl train --task clustered-mlp --task-config "$C" --trainer pg --steps 100 --iterations 14 --batch 16 --lr 0.003 $POLICY --out runs/rl/$N-pg14.safetensors --quiet
$L2O rl eval runs/rl/$N-gps-features.safetensors --evals 100 --instances 50 --seed 0 \
  --baselines rl:runs/rl/$N-pg.safetensors,rl:runs/rl/$N-pg14.safetensors,sgd,momentum,adam,cg,lbfgs \
  --out docs/results/rl-$N-groups.json --plot docs/figures/rl-$N-groups.svg --quiet
# The spread: training seeds 1 and 2, and seed 0 with every coordinate in one group, each beside
# Adam (the best baseline that is not a line search) on the same 50 instances.
more() { # SUFFIX FLAGS...
  S=$1; shift
  $L2O rl train --task clustered-mlp --task-config "$C" $GPS --history 10 --hidden 20 --init-lr 0.3 --init-std 0.05 "$@" \
    --out runs/rl/$N-gps-features-$S.safetensors --json > docs/results/rl-$N-gps-features-$S-train.json
  $L2O rl eval runs/rl/$N-gps-features-$S.safetensors --evals 100 --instances 50 --seed 0 --baselines adam --out docs/results/rl-$N-groups-$S.json --quiet
}
more seed1 --seed 1
more seed2 --seed 2
more all --seed 0 --groups all
small() { # NAME TASK TASK-CONFIG BEST-BASELINE
  $L2O rl train --task $2 --task-config "$3" $GPS $POLICY --out runs/rl/$1-gps-features.safetensors --json > docs/results/rl-$1-gps-features-train.json
  $L2O rl eval runs/rl/$1-gps-features.safetensors --evals 100 --instances 50 --seed 0 --baselines $4 --out docs/results/rl-$1-gps-features.json --quiet
}
small logistic-regression logistic-regression '{}' lbfgs
small clustered-mlp clustered-mlp '{}' lbfgs
# What every training started from: the untrained policy (the same flags and seed), on each task's instances.
npx tsx scripts/rl_init_file.ts runs/rl/policy-init.safetensors 10 20 0.3 0.05 0
$L2O rl eval runs/rl/policy-init.safetensors --task clustered-mlp --task-config "$C" --evals 100 --instances 50 --seed 0 --baselines sgd --out docs/results/rl-$N-init.json --quiet
for T in logistic-regression clustered-mlp; do
  $L2O rl eval runs/rl/policy-init.safetensors --task $T --task-config '{}' --evals 100 --instances 50 --seed 0 --baselines lbfgs --out docs/results/rl-$T-init.json --quiet
done
# Li & Malik 2017's MNIST setting (scripts/rl-general.sh's policy and training net, 6,370
# parameters): grouped GPS with 4 conditions of 3 samples (their features fit in memory), then
# its training setting's test beside the baselines, and the untrained start, on the instances of
# docs/results/rl-mnist-train.json.
MNIST='{"hidden":[8],"batchSize":64}'
$L2O rl train --task mnist-mlp --task-config "$MNIST" --trainer gps --controller-state features --groups tensors --steps 50 --iterations 8 --batch 4 --samples 3 --lr 0.01 \
  --history 10 --hidden 20 --init-lr 3 --init-std 0.002 --seed 0 --out runs/rl/mnist-gps-features.safetensors --json > docs/results/rl-mnist-gps-features-training.json
$L2O rl eval runs/rl/mnist-gps-features.safetensors --task mnist-mlp --task-config "$MNIST" --evals 50 --instances 50 --seed 0 \
  --baselines sgd,momentum,adam,lstm:pretrained/mnist --out docs/results/rl-mnist-train-gps-features.json --quiet
npx tsx scripts/rl_init_file.ts runs/rl/mnist-policy-init.safetensors 10 20 3 0.002 0
$L2O rl eval runs/rl/mnist-policy-init.safetensors --task mnist-mlp --task-config "$MNIST" --evals 50 --instances 50 --seed 0 --baselines sgd@3 \
  --out docs/results/rl-mnist-train-init.json --quiet
# The GPS policy on the generalisation tests of scripts/rl-general.sh (the same instances:
# seed 0, 50 each; the tuned baselines are in that script's reports, docs/results/rl-mnist-N.json),
# and its untrained start beside it.
for S in 'noisier {"hidden":[8],"batchSize":10} 50' 'longer {"hidden":[8],"batchSize":64} 200' 'deeper {"hidden":[8,8],"batchSize":64} 50' 'wider {"hidden":[32],"batchSize":64} 50'; do
  set -- $S
  $L2O rl eval runs/rl/mnist-gps-features.safetensors --task mnist-mlp --task-config "$2" --evals $3 --instances 50 --seed 0 --baselines sgd@3 \
    --out docs/results/rl-mnist-$1-gps-features.json --quiet
  $L2O rl eval runs/rl/mnist-policy-init.safetensors --task mnist-mlp --task-config "$2" --evals $3 --instances 50 --seed 0 --baselines sgd@3 \
    --out docs/results/rl-mnist-$1-init.json --quiet
done
