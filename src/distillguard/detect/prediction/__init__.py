"""detect/prediction stage: see DESIGN.md."""
