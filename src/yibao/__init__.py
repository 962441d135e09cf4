"""yibao — case tracker for medical-insurance service stations (医保服务站)."""

__version__ = "0.1.0"
