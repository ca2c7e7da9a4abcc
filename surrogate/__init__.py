"""The drag surrogate: a network f(shape, Re) -> flow state on a window, the physics operator P that measures
Cd and Cl from a state, its training (four methods, one loop) and evaluation.

Modules, by concept (docs/architecture.md has the map):
- the network and what it sees: `model`, `window`, `physics` (P), `residual`, `gradients`, `coverage`;
- model folders: `model_files` (format, cards, loading one network or an ensemble), `ensemble` (assembling,
  calibration);
- training: `train_config`, `train` (the loop and the update-rule dispatch), `methods` (the update formulas),
  `start` (resume, fine-tune or new; checkpoints), `splits`, `finetune`, `distributed`, `devices`;
- evaluation and the method comparison: `evaluation`, `compare`, `compare_worker`;
- datasets: the `datasets` subpackage; `paths` (the repository's shipped model and test set).

Importing this package imports nothing heavy: the command line's --help reads `paths` and `datasets.settings`.
"""
