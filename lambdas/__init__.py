"""AWS Lambda functions. Each sub-package is deployed as its own function (see stacks/)."""
