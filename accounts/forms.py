from __future__ import annotations

from django import forms


class ApiKeyNameForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        strip=True,
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. Production server", "autocomplete": "off"}
        ),
    )
