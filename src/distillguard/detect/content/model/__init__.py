"""The shipped content model (``content_model.npz``), read by ``ContentModel.load()``."""
