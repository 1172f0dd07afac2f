"""The HTML an emulated provider shows at its authorize URL.

Contract (API.md "Sandbox"): the page lists the provider's sandbox accounts and holds one form
that POSTs back to the same URL (query string included) with ``account=<email>`` and
``decision=allow|deny``; each requested scope is a ticked checkbox named ``scope`` so a person
can grant fewer. A script may instead post ``scope=<space separated subset>``; leaving
``scope`` out grants everything that was asked for.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from markupsafe import escape

from .accounts import Account

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}"
    "li{margin:.25rem 0}fieldset{margin:1rem 0}.error{color:#b00020}"
    "button{margin-right:.5rem;padding:.4rem 1rem}"
)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def render_consent_page(
    *,
    provider_title: str,
    client_id: str,
    action_url: str,
    scopes: Iterable[str],
    scope_descriptions: Mapping[str, str],
    accounts: Iterable[Account],
    login_hint: str | None,
    error: str | None = None,
) -> str:
    accounts = list(accounts)
    preset = login_hint or (accounts[0].email if accounts else "")
    account_items = "".join(
        f'<li data-account="{escape(a.email)}"><strong>{escape(a.name)}</strong> '
        f"&lt;{escape(a.email)}&gt; ({escape(a.kind)})</li>"
        for a in accounts
    ) or "<li>No sandbox accounts yet: type any email to create one.</li>"
    options = "".join(f'<option value="{escape(a.email)}">' for a in accounts)
    scope_items = "".join(
        f'<li><label><input type=checkbox name=scope value="{escape(s)}" checked> '
        f"{escape(scope_descriptions.get(s, s))} <code>{escape(s)}</code></label></li>"
        for s in scopes
    )
    error_html = f'<p class=error role=alert>{escape(error)}</p>' if error else ""
    body = (
        f"<h1>Sign in with {escape(provider_title)} (sandbox)</h1>"
        f"<p>The application <code>{escape(client_id)}</code> wants access to your account.</p>"
        f"{error_html}"
        f'<form id=consent-form method=post action="{escape(action_url)}">'
        f"<h2>Accounts</h2><ul id=accounts>{account_items}</ul>"
        f'<label>Account <input id=account name=account type=email list=known-accounts '
        f'value="{escape(preset)}" required></label><datalist id=known-accounts>{options}</datalist>'
        f"<fieldset><legend>Requested access</legend><ul id=scopes>{scope_items}</ul></fieldset>"
        f"<input type=hidden name=scope_form value=1>"
        f'<button id=allow type=submit name=decision value=allow>Allow</button>'
        f'<button id=deny type=submit name=decision value=deny formnovalidate>Deny</button>'
        f"</form>"
    )
    return _page(f"{provider_title} sign-in", body)


def render_error_page(*, provider_title: str, status: int, code: str, message: str) -> str:
    body = (
        f"<h1>{escape(provider_title)}: access blocked</h1>"
        f'<p class=error id=error-code>Error {status}: {escape(code)}</p>'
        f"<p id=error-message>{escape(message)}</p>"
    )
    return _page(f"Error {status}: {code}", body)
