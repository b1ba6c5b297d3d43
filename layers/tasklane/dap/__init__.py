"""DAP engine: load application packages (zip + dap.yaml + Jinja templates) and run them per task.

Pure Python: no AWS and no other tasklane imports, so it can be used anywhere.
"""

from .engine import Engine, LogEntry, RunContext, RunResult, StoredDocument, guess_content_type, safe_filename
from .manifest import (
    STEP_KINDS,
    ComposeSpec,
    ComposeStep,
    Manifest,
    ParamSpec,
    ParamType,
    Step,
    StoreSpec,
    StoreStep,
)
from .package import MANIFEST_NAME, Dap, DapError, DapLimits, create_environment, load_dap

__all__ = [
    "MANIFEST_NAME",
    "STEP_KINDS",
    "ComposeSpec",
    "ComposeStep",
    "Dap",
    "DapError",
    "DapLimits",
    "Engine",
    "LogEntry",
    "Manifest",
    "ParamSpec",
    "ParamType",
    "RunContext",
    "RunResult",
    "Step",
    "StoreSpec",
    "StoreStep",
    "StoredDocument",
    "create_environment",
    "guess_content_type",
    "load_dap",
    "safe_filename",
]
