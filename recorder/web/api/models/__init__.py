"""The API's requests and responses, each defined once as a pydantic model: the routes validate requests and
shape responses with them, and ``web/api/openapi.py`` builds the OpenAPI document from them."""
