"""The jobs family's wire format, WorkfloPlus-compatible: basicSync and the jobs API's bodies, query
strings, presenters and error body. The domain (`tasklane.domain.jobs`) never imports this package."""
