#!/bin/sh
# What guided policy search buys at equal cost: the policy-gradient trainer given about GPS's
# objective evaluations (14 iterations x 16 runs x 101 evaluations = 22,624; GPS in
# scripts/rl-results.sh spends 8 x 6 x 4 x 101 = 19,392 on its samples, plus 2,424 at the start
# and 606 per iteration to report its policy's cost), evaluated on the same 50 test instances.
set -e
POLICY="--history 10 --hidden 20 --init-lr 0.3 --init-std 0.05 --seed 0"
one() { # NAME TASK TASK-CONFIG
  node bin/l2o.js rl train --task $2 --task-config "$3" --trainer pg --steps 100 --iterations 14 --batch 16 --lr 0.003 $POLICY --out runs/rl/$1-pg14.safetensors --quiet
  node bin/l2o.js rl eval runs/rl/$1-pg14.safetensors --evals 100 --instances 50 --seed 0 --baselines cg --out docs/results/rl-$1-pg14.json --quiet
}
one logistic-regression logistic-regression '{}' &
one robust-regression robust-regression '{}' &
one clustered-mlp clustered-mlp '{}' &
one logistic-regression-2d logistic-regression '{"dim":2,"bias":false}' &
wait
