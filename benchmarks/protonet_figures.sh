#!/bin/sh
# The ProtoNet figures of the README, all drawn by the tfinterp CLI (issue 5, parts 3 and 4).
# Needs the two training runs (the first one is shipped as saved_models/protonet_fashion_mnist.*):
#   tfinterp train protonet --config configs/protonet_fashion_mnist.toml --out runs/protonet_fashion_mnist
#   tfinterp train protonet --config configs/protonet_mnist.toml --out runs/protonet_mnist_subset
set -e
cd "$(dirname "$0")/.."
TFINTERP=${TFINTERP:-tfinterp}
PY=${PYTHON:-python}
D=docs/protonet
mkdir -p $D/inputs
# the figures `tfinterp train protonet` drew for the two runs
for f in prototypes weights losses; do
    cp runs/protonet_fashion_mnist/protonet_fashion_mnist_$f.png $D/protonet_fashion_mnist_$f.png
    cp runs/protonet_mnist_subset/protonet_mnist_$f.png $D/protonet_mnist_subset_$f.png
done
# three Fashion-MNIST test images (indices 0, 1, 2) as PNG files, as a user would have them
$PY -c "
from tfinterp.data import load_arrays, write_png
x, y = load_arrays('fashion_mnist', 'test', 3)
for i in range(3):
    write_png('$D/inputs/fashion_test_%d.png' % i, x[i])
"
$TFINTERP explain $D/inputs/*.png --model protonet_fashion_mnist --method prototypes --out $D/explain
# Zheng et al. Fig. 3: PGD L-inf 0.3, untargeted and targeted 8 -> 0, decoded adversarial codes
$TFINTERP latent-attack runs/protonet_mnist_subset/protonet_mnist.keras --dataset mnist \
    --untargeted 6,3 --targeted 8:0 --steps 0,10,20,50,100 --eps 0.3 --step-size 0.01 \
    --out $D/latent_mnist_subset
# the same on the shipped Fashion-MNIST ProtoNet at the usual Fashion-MNIST radius 0.1
$TFINTERP latent-attack protonet_fashion_mnist --dataset fashion_mnist \
    --untargeted 7,1 --targeted 9:5 --steps 0,10,20,50,100 --eps 0.1 --step-size 0.005 \
    --out $D/latent_fashion_mnist
