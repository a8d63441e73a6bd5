"""Click commands of the genz CLI, one module per command group."""
