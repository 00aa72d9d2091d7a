"""`comp tune`: Optuna studies over comp's own settings, one machine or many, MLP trials trained as populations.

Modules: `space` (search spaces), `study` (storage, create/load, fingerprint), `context` (folds and
fold matrices shared by every trial), `evaluate` (scoring trials), `runner` (the command's flow),
`live` (the terminal view), `plots` (Optuna's matplotlib plots).
"""
