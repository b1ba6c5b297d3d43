"""The GenericTasks family's wire format, UiPath Orchestrator-compatible: its requests, responses,
folder headers, OData listing options and error body `{"message", "errorCode", "traceId"}`.

Field names and casing are Orchestrator's, here only: GenericTasks routes answer camelCase, OData
routes PascalCase. The domain (`tasklane.domain.generic_tasks`) never imports this package.
"""
