"""One small error hierarchy. Modules that touch YAML, SQL, LiteRT or TFLite-Micro re-raise
their errors as one of these (``raise ... from e``) with what was wrong, where, and how to fix it.
The CLI prints the message; the API maps each class to a status code in one handler."""


class NasError(Exception):
    """Base class of every error the service reports to a user."""


class ConfigError(NasError):
    """A YAML file (search space, hardware profile, study config) or an option is invalid.

    The message names the file, the key and what was expected."""


class NotFoundError(NasError):
    """A named thing (study, trial, profile, search space, dataset) does not exist."""


class DataError(NasError):
    """A dataset cannot be read: missing files or metadata, corrupt audio, an empty class."""


class ExportError(NasError):
    """A model could not be converted, quantized or loaded as a ``.tflite`` file."""


class NotDeployableError(NasError):
    """A model cannot run on a target runtime (an unsupported op, a refused tensor type).

    This is a result, not a crash: trials record it as the reason a candidate is infeasible."""


class ConflictError(NasError):
    """A name is taken: a study of that name exists (or is being created by another request)."""


class StorageError(NasError):
    """The database could not be reached or refused an operation after retries."""


class AuthError(NasError):
    """A missing or wrong API token."""
