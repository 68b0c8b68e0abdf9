"""Make models smaller and faster: Network Slimming, Scalpel SIMD-aware pruning, activation pruning.

Submodules: ``graph`` (channel dependency analysis), ``surgery`` (physical channel removal),
``slimming``, ``scalpel``, ``activation`` (the three methods), ``cost`` (parameters and MACs).
"""
