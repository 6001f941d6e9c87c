"""SweetDream on AWS (CDK): environment configs, building-block constructs and deployable stacks."""
