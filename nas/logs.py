"""Logging set-up for the command line and worker processes: our progress at INFO, libraries quiet."""

from __future__ import annotations

import logging
import warnings


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", force=True)
    logging.getLogger("nas").setLevel(logging.DEBUG if verbose else logging.INFO)
    # litert-torch and ai-edge-quantizer log and warn on every conversion; none of it is actionable here.
    for name in ("absl", "jax", "root", "optuna", "torch_pruning", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
