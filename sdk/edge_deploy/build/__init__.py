"""``edge-deploy build``: the int8 graph to firmware, with budgets and a report.

Also the host builds of the same C sources (``hostlib``): the kernels in ``firmware/kernels/``
compiled for this machine, called through ctypes, optionally under AddressSanitizer and
UndefinedBehaviorSanitizer.
"""
