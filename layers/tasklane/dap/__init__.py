"""DAP engine: load application packages (zip + dap.yaml + templates) and run them per task.

Pure Python: no AWS and no other tasklane imports, so it can be used anywhere. What it needs from
outside (a DOCX -> PDF converter, a CRM to read records from) comes in through `dap.ports`.
"""

from .engine import (
    Engine,
    LogEntry,
    RunContext,
    RunResult,
    StoredDocument,
    guess_content_type,
    param_problems,
    safe_filename,
)
from .manifest import (
    STEP_KINDS,
    ComposeStep,
    Manifest,
    ParamSpec,
    ParamType,
    Step,
    StoreStep,
)
from .package import MANIFEST_NAME, Dap, DapError, DapLimits, create_environment, load_dap
from .ports import ConversionFailed, ConversionTimeout, Converter, DataSource, DataSourceError, RecordNotFound
from .steps import ComposeSpec, StoreSpec

__all__ = [
    "MANIFEST_NAME",
    "STEP_KINDS",
    "ComposeSpec",
    "ComposeStep",
    "ConversionFailed",
    "ConversionTimeout",
    "Converter",
    "Dap",
    "DapError",
    "DapLimits",
    "DataSource",
    "DataSourceError",
    "Engine",
    "LogEntry",
    "Manifest",
    "ParamSpec",
    "ParamType",
    "param_problems",
    "RecordNotFound",
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
