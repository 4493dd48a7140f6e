"""Load generation for vLLM (in progress)."""
