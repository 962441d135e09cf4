"""Transfers of insurance relationships between agencies (医保关系转移接续)."""
