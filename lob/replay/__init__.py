"""Replaying historical event logs through the matching core.

Three sources: LOBSTER message and orderbook files (:mod:`lob.replay.lobster`),
raw Binance USD-M futures captures (:mod:`lob.replay.binance`), and the
simulator's own run directories (:mod:`lob.replay.own_run`). Errors in the
input are :class:`lob.replay.errors.ReplayError`, naming the file and line.
"""
