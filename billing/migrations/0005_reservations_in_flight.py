from django.db import migrations, models
from django.db.models import Count


def recount(apps, schema_editor):
    """Count in-flight reservations, and included credits only (not prepaid) as used."""
    CreditAccount = apps.get_model("billing", "CreditAccount")
    Charge = apps.get_model("billing", "Charge")
    for account in CreditAccount.objects.all():
        charges = Charge.objects.filter(user_id=account.user_id)
        account.included_used = charges.filter(
            status="committed", source="included", period_start=account.period_start
        ).count()
        reserved = dict(
            charges.filter(status="reserved").values_list("source").annotate(n=Count("id"))
        )
        account.reserved_included = reserved.get("included", 0)
        account.reserved_prepaid = reserved.get("prepaid", 0)
        account.save(update_fields=["included_used", "reserved_included", "reserved_prepaid"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_seed_credit_packs")]

    operations = [
        migrations.RenameField(
            model_name="creditaccount", old_name="period_used", new_name="included_used"
        ),
        migrations.AddField(
            model_name="creditaccount",
            name="reserved_included",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="creditaccount",
            name="reserved_prepaid",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(recount, migrations.RunPython.noop),
    ]
