"""gateway stage: see DESIGN.md."""
