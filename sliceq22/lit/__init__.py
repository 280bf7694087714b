"""Lightning glue: DataModules, LightningModules and callbacks (the only place Lightning is imported)."""
