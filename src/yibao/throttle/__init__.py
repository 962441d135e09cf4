"""Request limits shared by every worker process of a node."""
