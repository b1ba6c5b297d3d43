"""The local stack: template.yaml run in one process, with moto standing in for AWS.

No Docker: handlers are imported in-process, API Gateway and the SQS event source are
small Python classes, and moto's server plays DynamoDB, S3 and SQS.
"""

import os

# The layer's modules make their Powertools child loggers at import, named after the service
# (Logger(child=True): "<service>.<module>"), and this package imports some of them before the
# template's environment is applied. Without the name set first they would be "service_undefined.*",
# a logger without a handler, and their lines ("answered", "request refused") lost. The value is
# template.yaml's Globals POWERTOOLS_SERVICE_NAME (tests/local/test_local_log_format.py checks it).
SERVICE = "tasklane"
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", SERVICE)
