"""Search: target, builder and runner for this CPU or RPC devices (``measure``); the one ``tune_tasks``
wrapper, its trial log and the search strategies (``tuning``).

Nothing is imported here: builder workers import ``measure`` alone and stay fast.
"""
