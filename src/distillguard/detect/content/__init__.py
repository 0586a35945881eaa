"""detect/content stage: see DESIGN.md."""
