from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from billing import membership, schema
from billing.ratelimit import RateLimitedMixin


class MembershipUsageView(RateLimitedMixin, APIView):
    """GET /api/membership-usage: plan, credits and usage, for an API key."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(**schema.MEMBERSHIP_USAGE)
    def get(self, request: Request) -> Response:
        query = membership.parse_query(request.query_params)
        return Response(membership.report(request.user, query))
