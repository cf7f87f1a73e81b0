"""qtqueue's built-in operation families, one folder each (see `qtqueue.executors.family`).

Nothing outside this package imports it: the registry finds each family through the
`qtqueue.families` entry-point group, exactly as it finds a plug-in's.
"""
