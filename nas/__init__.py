"""Hardware-aware multi-objective NAS for embedded audio classifiers.

Stages, lowest first (a module imports only from stages before it; tests/test_layering.py checks it):
``candidate``/``errors``/``yamlfile`` -> ``data`` -> ``models`` -> ``train`` -> ``compress`` -> ``deploy``
-> ``hardware`` -> ``space`` -> ``pipeline`` (one trial) -> ``front``/``early_stopping`` -> ``study_config``
-> ``db`` -> ``study`` -> ``recovery`` -> ``workers`` -> ``service`` -> ``api``/``cli``.
"""

import os as _os

# The converter and quantizer print progress bars and C++ logs; tqdm reads TQDM_DISABLE when it is
# first imported, so these defaults must be set before any of them loads.
for _k, _v in (("TQDM_DISABLE", "1"), ("LITERT_TORCH_SHOW_PROGRESS", "n"), ("TF_CPP_MIN_LOG_LEVEL", "3"),
               ("GLOG_minloglevel", "3")):
    _os.environ.setdefault(_k, _v)

__version__ = "0.1.0"
