"""console stage: see DESIGN.md."""
