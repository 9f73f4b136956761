"""Integrations with other libraries, one module each; each imports its library inside the module only."""
