"""The SendGrid stand-in and sending options, shared with the sending layer's tests."""

from tests.email_send.conftest import (  # noqa: F401  (fixtures)
    _email_env,
    clock,
    mail_validator,
    options,
    sendgrid,
    standin,
)
