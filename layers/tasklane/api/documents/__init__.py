"""The document family's wire format, Documill Dynamo-compatible: its requests, responses and error body.

Field names are spelled as Dynamo spells them here, and only here: the domain works on records,
commands and views (`tasklane.domain.views`) and never imports this package.
"""
