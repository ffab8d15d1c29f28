"""The wider Flux standard library of the emulator, on top of the core engine.

Modules (each registers its builtins with ``@builtin`` when imported;
:func:`app.emulator.flux.registry.load_builtins` imports every module of this package):

- ``aggregates``: mean, sum, count, spread, median, quantile, min, max (vectorised over row segments)
- ``window``: window, aggregateWindow, truncateTimeColumn, date.truncate (``windowing`` does the arithmetic)
- ``columns``: keep, drop, rename, duplicate, set
- ``reshape``: group, sort, tail, top, bottom, distinct, unique, pivot, union
- ``transform``: map, fill, difference, derivative, elapsed, cumulativeSum
- ``strings_math``: strings.* used in filters and maps, math constants and functions
"""
