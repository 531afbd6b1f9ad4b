from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from accounts.ratelimit import RateLimitedMixin
from billing import credits, membership, schema, stripe_gateway, subscriptions, webhooks
from billing.models import CreditAccount, CreditPack, Plan
from config.errors import ApiError, error_body

logger = logging.getLogger(__name__)


class MembershipUsageView(RateLimitedMixin, APIView):
    """GET /api/membership-usage: plan, credits and usage, for an API key."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(**schema.MEMBERSHIP_USAGE)
    def get(self, request: Request) -> Response:
        query = membership.parse_query(request.query_params)
        return Response(membership.report(request.user, query))


@never_cache
@login_required
def billing(request):
    with transaction.atomic():
        # Rolls a finished period over, and ends a cancelled plan, before showing them.
        account = credits.locked_account(request.user, timezone.now())
    subscription = subscriptions.current_for(request.user)
    context = {
        "configured": stripe_gateway.configured(),
        "account": account,
        "subscription": subscription,
        "plans": [plan for plan in Plan.objects.purchasable() if not plan.is_default],
        "packs": CreditPack.objects.filter(active=True).purchasable(),
        "can_subscribe": not (subscription and subscription.is_live),
    }
    return render(request, "billing/billing.html", context)


@require_POST
@login_required
def subscribe(request, plan_id: int):
    plan = get_object_or_404(Plan, pk=plan_id)
    current = subscriptions.current_for(request.user)
    if current is not None and current.is_live:
        messages.info(request, _("You already have a subscription: change it under Manage."))
        return redirect("billing")
    return _checkout(request, "subscription", plan.price_id, {"plan_id": str(plan.pk)})


@require_POST
@login_required
def buy_pack(request, pack_id: int):
    pack = get_object_or_404(CreditPack, pk=pack_id, active=True)
    return _checkout(request, "payment", pack.price_id, {"pack_id": str(pack.pk)})


@require_POST
@login_required
def portal(request):
    customer_id = CreditAccount.objects.for_user(request.user).stripe_customer_id
    if not customer_id:
        messages.error(request, _("There is no Stripe subscription or payment to manage yet."))
        return redirect("billing")
    return _to_stripe(
        request,
        lambda: stripe_gateway.create_portal_session(
            customer_id=customer_id, return_url=request.build_absolute_uri(reverse("billing"))
        ),
    )


def _checkout(request, mode: str, price_id: str, metadata: dict[str, str]):
    if not price_id:
        messages.error(request, _("This is not for sale yet: it has no Stripe price."))
        return redirect("billing")
    success = request.build_absolute_uri(reverse("billing-success"))
    return _to_stripe(
        request,
        lambda: stripe_gateway.create_checkout_session(
            mode=mode,
            price_id=price_id,
            user=request.user,
            customer_id=CreditAccount.objects.for_user(request.user).stripe_customer_id,
            success_url=f"{success}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=request.build_absolute_uri(reverse("billing-cancel")),
            metadata=metadata,
        ),
    )


def _to_stripe(request, create_session):
    if not stripe_gateway.configured():
        messages.error(request, _("Billing is not configured on this server."))
        return redirect("billing")
    try:
        url = create_session()
    except stripe_gateway.StripeError:
        logger.exception("Stripe refused or could not be reached")
        messages.error(request, _("Stripe could not be reached. Please try again in a moment."))
        return redirect("billing")
    response = HttpResponseRedirect(url)
    response.status_code = 303  # see other: a GET of Stripe's page after our POST
    return response


@login_required
def checkout_success(request):
    return render(request, "billing/checkout_done.html", {"succeeded": True})


@login_required
def checkout_cancel(request):
    return render(request, "billing/checkout_done.html", {"succeeded": False})


@csrf_exempt  # Stripe signs its deliveries instead
@require_POST
def stripe_webhook(request):
    try:
        outcome = webhooks.receive(request.body, request.headers.get("Stripe-Signature"))
    except stripe_gateway.InvalidWebhook as exc:
        error = ApiError(exc.message, field=exc.field)
        return JsonResponse(error_body(error, 400), status=400)
    # A failed event is answered 500, so that Stripe delivers it again later.
    status = 500 if outcome == webhooks.FAILED else 200
    return HttpResponse(outcome, status=status, content_type="text/plain")
