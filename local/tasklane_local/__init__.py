"""The local stack: template.yaml run in one process, with moto standing in for AWS.

No Docker: handlers are imported in-process, API Gateway and the SQS event source are
small Python classes, and moto's server plays DynamoDB, S3 and SQS.
"""
