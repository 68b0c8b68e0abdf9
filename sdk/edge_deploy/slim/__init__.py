"""Make models smaller and faster: Network Slimming, Scalpel SIMD-aware pruning, activation pruning.

Submodules: ``registry`` (methods by name behind one interface), ``slimming``, ``scalpel``,
``activation`` (the three methods, each with its config section), ``graph`` (channel dependency
analysis), ``surgery`` (physical channel removal), ``cost`` (parameters and MACs), ``dataset``
(the windows a run uses), ``steps`` (one method on one checkpoint), ``points`` and ``runners``
(the points of a search or sweep, in place, in worker processes or on Ray), ``pipeline`` (a run
held to the accuracy budget, with its search), ``sweep``, ``config``, ``confidence``.
"""
