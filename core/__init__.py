"""mqscope core: topology, routing, broker plumbing and the flow engine (no UI imports)."""
