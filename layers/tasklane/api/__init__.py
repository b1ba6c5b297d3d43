"""HTTP plumbing shared by every endpoint function: resolver, auth context, bodies, errors."""
