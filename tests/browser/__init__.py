"""Browser tests (a package, so its conftest never shadows another test folder's `conftest` module)."""
