#!/bin/sh
# Li & Malik 2017's generalisation setting (docs/RESULTS.md, "Li & Malik 2017's generalisation
# setting"): a policy meta-trained by policy gradient on a small MLP on MNIST (784-8-10,
# minibatches of 64, horizon 50), then tested on fresh instances of a wider and a deeper net,
# smaller minibatches, a 4x longer horizon, and CIFAR-10 when CIFAR_DIR names the user's copy
# of its binary batches (l2o ships none; without it that test is skipped and says so). Beside
# it, on the same instances: gradient descent, momentum and Adam (rates tuned per problem on 5
# separate instances) and l2o's LSTM pretrained/mnist. CG and L-BFGS are left out: their line
# searches evaluate one fixed minibatch (see RESULTS). The same training at a tenth of the
# meta-learning rate (20 iterations) is evaluated on the same instances. One process at a
# time, niced. Policies go to runs/rl/, reports to docs/results/rl-mnist-*.json, figures to
# docs/figures/rl-mnist-*.svg; tables: npx tsx scripts/rl_table.ts REPORT.json [LABEL=OTHER.json].
set -e
mkdir -p runs/rl docs/results docs/figures
L2O="nice -n 10 node bin/l2o.js"
TRAIN='{"hidden":[8],"batchSize":64}'
POLICY_FLAGS="--history 10 --hidden 20 --init-lr 3 --init-std 0.002 --seed 0"
$L2O rl train --task mnist-mlp --task-config "$TRAIN" --trainer pg --steps 50 --iterations 40 --batch 8 --lr 0.003 $POLICY_FLAGS \
  --out runs/rl/mnist-pg.safetensors --json > docs/results/rl-mnist-pg-training.json
$L2O rl train --task mnist-mlp --task-config "$TRAIN" --trainer pg --steps 50 --iterations 20 --batch 8 --lr 0.0003 $POLICY_FLAGS \
  --out runs/rl/mnist-pg-lr3e-4.safetensors --json > docs/results/rl-mnist-pg-lr3e-4-training.json
one() { # NAME TASK TASK-CONFIG EVALS [EXTRA FLAGS]
  N=$1; T=$2; C=$3; E=$4; shift 4
  $L2O rl eval runs/rl/mnist-pg.safetensors --task $T --task-config "$C" --evals $E --instances 50 --seed 0 \
    --baselines sgd,momentum,adam,lstm:pretrained/mnist --out docs/results/rl-mnist-$N.json --plot docs/figures/rl-mnist-$N.svg "$@" --quiet
  $L2O rl eval runs/rl/mnist-pg-lr3e-4.safetensors --task $T --task-config "$C" --evals $E --instances 50 --seed 0 \
    --baselines sgd@3 --out docs/results/rl-mnist-$N-lr3e-4.json "$@" --quiet
}
one train mnist-mlp "$TRAIN" 50
one noisier mnist-mlp '{"hidden":[8],"batchSize":10}' 50
one longer mnist-mlp "$TRAIN" 200
one deeper mnist-mlp '{"hidden":[8,8],"batchSize":64}' 50
one wider mnist-mlp '{"hidden":[32],"batchSize":64}' 50
if [ -n "$CIFAR_DIR" ]; then
  one cifar10 cnn '{"batchSize":64}' 50 --data "$CIFAR_DIR"
else
  echo "CIFAR-10: skipped (set CIFAR_DIR to the folder of your copy's binary batches, data_batch_1.bin .. test_batch.bin; l2o ships no CIFAR-10)"
fi
