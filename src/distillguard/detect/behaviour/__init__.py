"""detect/behaviour stage: see DESIGN.md."""
