"""Helpers that run real model servers on 127.0.0.1 for the remote-engine tests."""
