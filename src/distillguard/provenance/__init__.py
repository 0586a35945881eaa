"""provenance stage: see DESIGN.md."""
