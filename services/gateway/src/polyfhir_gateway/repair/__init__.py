"""Keeping secondaries equal to the primary: reconcile (find and repair drift) and rebuild."""
