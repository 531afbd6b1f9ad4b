"""How the API's authentication schemes appear in the OpenAPI spec."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "An API key from the API keys page (starts with `rbg_`).",
        }


class UserTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.UserTokenAuthentication"
    name = "UserToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The short-lived token our own pages use; counts as app usage.",
        }


class AppSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.AppSessionAuthentication"
    name = "Session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
