"""Cloud secrets, kept in the system keyring only.

The cloud password (basic sign-in), the OAuth2 client secret and the OAuth2
refresh token (device sign-in) are stored under the keyring service
"MammoDesk" and never written to the settings file, the library database, a
log or an error message.

When no keyring can be used (none installed, or a Secret Service backend
with no session bus to reach it), every call fails with one line that names
the missing keyring and points to the README section "Keyring on a headless
Linux"; the site's de-identification key (sync/deid/keys.py) fails the same
way.  That section says what IT can do:

- a desktop session: install and unlock a Secret Service keyring
  (gnome-keyring or KWallet; ``python -m keyring diagnose`` shows which one
  Python sees).  Secrets are encrypted with the user's login and unlocked
  with the session.
- a headless or locked-down service account with no Secret Service: install
  ``keyrings.alt`` and set ``PYTHON_KEYRING_BACKEND`` (or keyring's own
  ``keyringrc.cfg``) to ``keyrings.alt.file.PlaintextKeyring``.  The secrets
  then sit base64-encoded (not encrypted) in a file of that account's data
  folder, mode 0600: root and anyone who can read the account's files or its
  backups can read them, so use it only for a service account nobody signs in
  to, on an encrypted disk, and prefer an OAuth2 client whose secret IT can
  revoke over a person's password.
"""

from __future__ import annotations

import platform

import keyring
import keyring.errors

from sync.errors import AuthError

SERVICE = "MammoDesk"
README_SECTION = "Keyring on a headless Linux"
_PASSWORD = "cloud-password:"
_CLIENT_SECRET = "oauth2-client-secret:"
_REFRESH_TOKEN = "oauth2-refresh-token:"


def _system_keyring() -> str:
    return {"Windows": "Windows Credential Manager",
            "Darwin": "macOS Keychain"}.get(platform.system(),
                                            "Secret Service (gnome-keyring or KWallet)")


def _backend_name() -> str:
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration: name what we can
        return "none"
    return f"{type(backend).__module__}.{type(backend).__name__}"


# What keyring raises when there is no keyring to use: its own errors, and the
# RuntimeError of a backend that cannot start (the Secret Service backend
# without a session bus raises it while keyring picks the backend).
KEYRING_FAILURES: tuple[type[BaseException], ...] = (keyring.errors.KeyringError, RuntimeError)


def keyring_problem(exc: BaseException, doing: str) -> str:
    """One line: what could not be done, why the keyring failed, where the README helps."""
    if isinstance(exc, keyring.errors.KeyringLocked):
        what = f"the system keyring is locked (unlock the {_system_keyring()} keyring)"
    else:
        what = (f"no usable system keyring: the {_system_keyring()} keyring is missing "
                f"(keyring backend in use: {_backend_name()})")
    return f"cannot {doing}: {what}; see the README section \"{README_SECTION}\""


def _get(entry: str, doing: str) -> str | None:
    try:
        return keyring.get_password(SERVICE, entry)
    except KEYRING_FAILURES as exc:
        raise AuthError(keyring_problem(exc, doing)) from None


def _set(entry: str, value: str, doing: str) -> None:
    if not value:
        raise AuthError(f"cannot {doing}: it is empty")
    try:
        keyring.set_password(SERVICE, entry, value)
    except KEYRING_FAILURES as exc:
        raise AuthError(keyring_problem(exc, doing)) from None


def _forget(entry: str, doing: str) -> None:
    try:
        keyring.delete_password(SERVICE, entry)
    except keyring.errors.PasswordDeleteError:
        return  # nothing was stored
    except KEYRING_FAILURES as exc:
        raise AuthError(keyring_problem(exc, doing)) from None


def store_password(user: str, password: str) -> None:
    _set(_PASSWORD + user, password, "store the cloud password")


def get_password(user: str) -> str | None:
    return _get(_PASSWORD + user, "read the cloud password")


def forget_password(user: str) -> None:
    _forget(_PASSWORD + user, "remove the cloud password")


def store_client_secret(client_id: str, secret: str) -> None:
    _set(_CLIENT_SECRET + client_id, secret, "store the OAuth2 client secret")


def get_client_secret(client_id: str) -> str | None:
    return _get(_CLIENT_SECRET + client_id, "read the OAuth2 client secret")


def store_refresh_token(client_id: str, token: str) -> None:
    _set(_REFRESH_TOKEN + client_id, token, "store the cloud sign-in")


def get_refresh_token(client_id: str) -> str | None:
    return _get(_REFRESH_TOKEN + client_id, "read the cloud sign-in")


def forget_refresh_token(client_id: str) -> None:
    _forget(_REFRESH_TOKEN + client_id, "remove the cloud sign-in")
