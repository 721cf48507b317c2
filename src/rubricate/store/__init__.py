"""SQLite judgment cache and run journal."""

from rubricate.store._sqlite import RunRecord, Store, judgment_key, open_store, response_key

__all__ = ["RunRecord", "Store", "judgment_key", "open_store", "response_key"]
