"""The study stage: a study's config, its Optuna sampler and constraints, the Pareto front, multi-fidelity
rungs and early stopping, the workers that run trials and recover lost ones, and the SQL that stores it all.

Modules: ``config``, ``sampler`` (Optuna study, objectives, constraints), ``pareto``, ``fidelity``,
``early_stopping``, ``worker`` (the loop) with ``runtime`` (what a worker loads per study), ``recovery``,
``records`` (a trial's record), ``tables`` (the SQL tables, the engine) and ``store`` (the SQL), ``optuna_private``.

``pareto`` and ``fidelity`` are pure functions the trial pipeline also uses: importing this package
imports none of its modules.
"""
