"""Stations, towns and agencies: the network of service stations."""
