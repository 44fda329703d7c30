from tests.integration.azurite import azurite

__all__ = ["azurite"]
