"""The database-roles custom resource (stacks/database_roles.py deploys it)."""
