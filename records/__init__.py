"""The ground floor of chatd: it imports nothing of the project, so every other package may
use it. ``records.keyspace`` builds every Redis key and channel name.
"""
