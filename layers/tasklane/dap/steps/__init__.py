"""The step kinds, one module each; `Step` is the tagged union the manifest validates steps with."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Tag

from .base import StepModel
from .compose import MAX_FOREACH_ITEMS, ComposeSpec, ComposeStep
from .convert import ConvertSpec, ConvertStep
from .log import LogSpec, LogStep
from .query import QuerySpec, QueryStep
from .record import RecordSpec, RecordStep
from .set import SetSpec, SetStep
from .store import StoreSpec, StoreStep

STEP_MODELS: tuple[type[StepModel], ...] = (
    RecordStep,
    QueryStep,
    SetStep,
    ComposeStep,
    ConvertStep,
    LogStep,
    StoreStep,
)
STEP_KINDS: tuple[str, ...] = tuple(model.kind for model in STEP_MODELS)


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next(iter(value)) if len(value) == 1 else None
    return getattr(value, "kind", None)


Step = Annotated[
    Annotated[RecordStep, Tag(RecordStep.kind)]
    | Annotated[QueryStep, Tag(QueryStep.kind)]
    | Annotated[SetStep, Tag(SetStep.kind)]
    | Annotated[ComposeStep, Tag(ComposeStep.kind)]
    | Annotated[ConvertStep, Tag(ConvertStep.kind)]
    | Annotated[LogStep, Tag(LogStep.kind)]
    | Annotated[StoreStep, Tag(StoreStep.kind)],
    Discriminator(_step_kind),
]

__all__ = [
    "MAX_FOREACH_ITEMS",
    "STEP_KINDS",
    "STEP_MODELS",
    "ComposeSpec",
    "ComposeStep",
    "ConvertSpec",
    "ConvertStep",
    "LogSpec",
    "LogStep",
    "QuerySpec",
    "QueryStep",
    "RecordSpec",
    "RecordStep",
    "SetSpec",
    "SetStep",
    "Step",
    "StepModel",
    "StoreSpec",
    "StoreStep",
]
