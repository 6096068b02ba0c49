"""Service functions: what the CLI commands and the REST routes both call.

Each function takes a database session (or URL) and validated input and returns plain dataclasses;
nothing here prints or knows about HTTP. ``studies`` (create, inspect, stop, fronts, exports),
``trials`` (paged tables, one trial's detail and file) and ``meta`` (profiles, spaces, API tokens).
"""

from nas.service.meta import (
    DeviceInfo,
    api_token_owner,
    check_profile,
    check_space,
    create_api_token,
    list_api_tokens,
    list_devices,
    list_space_infos,
    revoke_api_token,
)
from nas.service.studies import (
    FrontPoint,
    HistoryPoint,
    StudyInfo,
    create_study,
    export_model,
    hypervolume_history,
    list_studies,
    pareto,
    resume_study,
    sampled_params,
    stop_study,
    study_config,
    study_effort,
    study_info,
    study_savings,
)
from nas.service.trials import (
    SORT_ORDERS,
    TRIAL_SORT_KEYS,
    DeviceFigures,
    TrialDetail,
    TrialPage,
    TrialSummary,
    list_trials,
    price_trial_everywhere,
    trial_detail,
    trial_model,
)

__all__ = [
    "DeviceFigures", "DeviceInfo", "FrontPoint", "HistoryPoint", "SORT_ORDERS", "StudyInfo", "TRIAL_SORT_KEYS",
    "TrialDetail", "TrialPage", "TrialSummary", "api_token_owner", "check_profile", "check_space", "create_api_token",
    "create_study", "export_model",
    "hypervolume_history", "list_api_tokens", "list_devices", "list_space_infos", "list_studies", "list_trials",
    "pareto", "price_trial_everywhere", "resume_study", "revoke_api_token", "sampled_params", "stop_study",
    "study_config", "study_effort", "study_info", "study_savings", "trial_detail", "trial_model",
]
