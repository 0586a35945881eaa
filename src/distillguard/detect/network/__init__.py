"""detect/network stage: see DESIGN.md."""
