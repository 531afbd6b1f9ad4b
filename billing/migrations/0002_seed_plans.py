from django.db import migrations

PLANS = [
    # label, included credits per period, monthly price, default
    ("Free", 50, 0, True),  # as billing.models.FREE_PLAN
    ("Premium-20000", 20000, 49, False),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for label, credits, price, default in PLANS:
        Plan.objects.get_or_create(
            label=label,
            defaults={"included_credits": credits, "monthly_price": price, "is_default": default},
        )


def unseed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.filter(label__in=[p[0] for p in PLANS], creditaccount__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
