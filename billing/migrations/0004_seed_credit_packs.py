from django.db import migrations

# Stripe price ids stay empty: the operator sets them in the admin or STRIPE_PRICE_IDS.
PACKS = [
    # label, credits, price
    ("Pack-1000", 1000, 10),
    ("Pack-10000", 10000, 80),
]


def seed(apps, schema_editor):
    CreditPack = apps.get_model("billing", "CreditPack")
    for label, credits, price in PACKS:
        CreditPack.objects.get_or_create(label=label, defaults={"credits": credits, "price": price})


def unseed(apps, schema_editor):
    CreditPack = apps.get_model("billing", "CreditPack")
    CreditPack.objects.filter(label__in=[p[0] for p in PACKS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_stripe_billing")]

    operations = [migrations.RunPython(seed, unseed)]
