"""Peers: supporter accounts, passwords, console sessions."""
