"""aictl: plan, render, provision, verify and accept rail-optimized GPU clusters."""

__version__ = "0.1.0"
