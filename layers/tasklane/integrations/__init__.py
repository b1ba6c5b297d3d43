"""Outside systems a task reads from and writes to with the caller's session (Salesforce)."""
