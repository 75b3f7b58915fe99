"""The tenant lifecycle on the gateway: who may manage which tenant, and deletion."""
