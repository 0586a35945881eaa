"""identity stage: see DESIGN.md."""
