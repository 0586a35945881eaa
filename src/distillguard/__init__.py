"""distillguard: find, stop and prove model-theft campaigns against AI-model APIs."""

from distillguard.errors import DistillguardError
from distillguard.settings import Settings, load_settings

__all__ = ["DistillguardError", "Settings", "__version__", "load_settings"]

__version__ = "0.1.0"
