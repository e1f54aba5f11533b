"""The primitive ops, one file per kind; every class here is a `Function`."""
