"""tasklane: asynchronous document tasks on AWS Lambda."""
