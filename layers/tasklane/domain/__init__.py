"""Business logic, one module per capability. Takes storage adapters; never builds a client."""
