"""Hardware-aware multi-objective NAS for embedded audio classifiers.

Stages, lowest first (a module imports only from stages above it in this list):
``candidate``/``errors`` -> ``space`` -> ``data`` -> ``models`` -> ``train`` -> ``compress`` -> ``deploy``
-> ``hardware`` -> ``pipeline`` (one trial) -> ``db`` -> ``study`` -> ``workers`` -> ``service`` -> ``api``/``cli``.
"""

__version__ = "0.1.0"
