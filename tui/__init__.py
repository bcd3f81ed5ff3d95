"""mqscope terminal UI (Textual)."""
