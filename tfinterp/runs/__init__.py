"""End-to-end jobs: resolve a model or data set from a name, run an algorithm, write JSON and
figures. One module per job (explain, attack, robustness, evaluate, protonet, ...).

This is the only layer (with the CLI above it) that imports `tfinterp.viz`; the algorithm
packages below (`data`, `models`, `training`, `attacks`, `defenses`, `explain`, `metrics`,
`export`, ...) import neither `runs`, `viz` nor `cli`. See docs/architecture.md.
"""
