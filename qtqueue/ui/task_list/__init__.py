"""The task list: its columns (`columns`), the flat model over engine snapshots (`model`),
the filtering proxy (`proxy`) and the progress bar painted in its cells (`delegate`)."""
