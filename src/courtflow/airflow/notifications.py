"""Failure alerts through Airflow notifiers: a generic JSON webhook, Slack and e-mail.

Every alert carries the DAG, task, run id, try number, error class, a redacted error
message and the task's log URL — never the API token (the task connection's token
and anything shaped like one are redacted).

    on_failure_callback=[WebhookNotifier(url="https://alerts.example/hook"),
                         SlackAlertNotifier(slack_webhook_conn_id="slack_alerts")]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseNotifier

from courtflow.airflow.hooks import DEFAULT_CONN_ID, CourtListenerHook
from courtflow.redact import Secret, redact

_ERROR_CHARS = 1000


def task_secrets(context: Mapping[str, Any]) -> list[Secret]:
    """The token of the failing task's CourtListener connection, if it can be read."""
    task = context.get("task")
    conn_id = getattr(task, "courtlistener_conn_id", None) or DEFAULT_CONN_ID
    try:
        token = CourtListenerHook(str(conn_id)).get_settings().token
    except Exception:  # a broken connection must not stop the alert about it
        return []
    return [token] if token else []


def alert_payload(
    context: Mapping[str, Any], secrets: Sequence[str | Secret | None] = ()
) -> dict[str, Any]:
    """The alert as plain JSON-able data, built from an Airflow task context."""
    ti = context.get("ti") or context.get("task_instance")
    error = context.get("exception")
    logical = context.get("logical_date")
    message = redact(str(error), *secrets)[:_ERROR_CHARS] if error is not None else None
    return {
        "source": "courtflow",
        "event": "task_failed",
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "max_tries": getattr(ti, "max_tries", None),
        "map_index": getattr(ti, "map_index", None),
        "logical_date": logical.isoformat() if isinstance(logical, datetime) else None,
        # A CourtListener error keeps its own class through AirflowFailException.
        "error_class": getattr(error, "error_class", None) or (
            type(error).__name__ if error is not None else None),
        "exception": type(error).__name__ if error is not None else None,
        "error": message,
        "log_url": getattr(ti, "log_url", None),
        "at": datetime.now(UTC).isoformat(),
    }  # fmt: skip


def alert_text(payload: Mapping[str, Any]) -> str:
    """A short human message for chat channels."""
    return (
        f":red_circle: courtflow task failed: {payload['dag_id']}.{payload['task_id']} "
        f"(run {payload['run_id']}, try {payload['try_number']})\n"
        f"{payload['error_class']}: {payload['error']}\n"
        f"Log: {payload['log_url']}"
    )


class WebhookNotifier(BaseNotifier):
    """POSTs the alert as JSON to ``url`` or to the URL of an HTTP connection.

    With ``webhook_conn_id`` the connection's host (a full URL, or host plus schema
    and port) and ``extra.endpoint`` make the URL, login/password give basic auth and
    ``extra.headers`` extra headers — so the URL's secrets stay in a secrets backend.
    """

    template_fields = ("url", "webhook_conn_id")

    def __init__(
        self,
        *,
        url: str | None = None,
        webhook_conn_id: str | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not url and not webhook_conn_id:
            raise ValueError("WebhookNotifier needs url or webhook_conn_id")
        self.url = url
        self.webhook_conn_id = webhook_conn_id
        self.timeout = timeout

    def notify(self, context: Any) -> None:
        import httpx

        secrets = task_secrets(context)
        payload = alert_payload(context, secrets)
        url, auth, headers = self._target()
        try:
            response = httpx.post(
                url, json=payload, headers=headers, auth=auth, timeout=self.timeout
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # httpx messages quote the URL, which may hold a webhook secret.
            raise RuntimeError(
                f"alert webhook failed: {type(exc).__name__}: "
                f"{redact(str(exc), url, *secrets)}"
            ) from None
        self.log.info("failure alert sent (HTTP %s)", response.status_code)

    def _target(self) -> tuple[str, tuple[str, str] | None, dict[str, str]]:
        if self.url:
            return self.url, None, {}
        assert self.webhook_conn_id is not None
        conn = CourtListenerHook.get_connection(self.webhook_conn_id)
        extra = conn.extra_dejson if conn.extra else {}
        host = (conn.host or "").rstrip("/")
        if "://" not in host:
            scheme = conn.schema or "https"
            host = f"{scheme}://{host}{f':{conn.port}' if conn.port else ''}"
        endpoint = str(extra.get("endpoint", "")).lstrip("/")
        url = f"{host}/{endpoint}" if endpoint else host
        auth = (conn.login, conn.password or "") if conn.login else None
        headers = {str(k): str(v) for k, v in dict(extra.get("headers") or {}).items()}
        return url, auth, headers


class SlackAlertNotifier(BaseNotifier):
    """The same alert through the Slack provider's notifiers (webhook or API connection)."""

    template_fields = ("slack_webhook_conn_id", "slack_conn_id", "channel")

    def __init__(
        self,
        *,
        slack_webhook_conn_id: str | None = None,
        slack_conn_id: str | None = None,
        channel: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not slack_webhook_conn_id and not slack_conn_id:
            raise ValueError("SlackAlertNotifier needs slack_webhook_conn_id or slack_conn_id")
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.slack_conn_id = slack_conn_id
        self.channel = channel

    def notify(self, context: Any) -> None:
        text = alert_text(alert_payload(context, task_secrets(context)))
        # Built here, after redaction, and called directly: Slack's notifiers would
        # otherwise render ``text`` as a Jinja template.
        if self.slack_webhook_conn_id:
            from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

            webhook = SlackWebhookNotifier(
                slack_webhook_conn_id=self.slack_webhook_conn_id, text=text
            )
            webhook.notify(context)  # type: ignore[no-untyped-call]
        else:
            from airflow.providers.slack.notifications.slack import SlackNotifier

            assert self.slack_conn_id is not None
            api = SlackNotifier(
                slack_conn_id=self.slack_conn_id, text=text, channel=self.channel or "#general"
            )
            api.notify(context)  # type: ignore[no-untyped-call]
        self.log.info("failure alert sent to Slack")


def alert_html(payload: Mapping[str, Any]) -> str:
    """The alert as a short HTML e-mail body (every value escaped)."""
    from html import escape

    rows = "".join(
        f"<tr><th align='left'>{escape(key)}</th><td>{escape(str(payload.get(key)))}</td></tr>"
        for key in ("dag_id", "task_id", "run_id", "try_number", "max_tries", "logical_date",
                    "error_class", "error", "at")
    )  # fmt: skip
    log_url = escape(str(payload.get("log_url") or ""))
    return (f"<p>courtflow task failed.</p><table>{rows}</table>"
            f"<p><a href=\"{log_url}\">Task log</a></p>")  # fmt: skip


class EmailAlertNotifier(BaseNotifier):
    """The same alert by e-mail, through the SMTP provider's notifier and connection.

    Airflow 3 deprecates ``email_on_failure`` in favour of ``SmtpNotifier``; this sends
    the redacted alert through it (``smtp_conn_id``, default Airflow's
    ``[email] email_conn_id``).
    """

    template_fields = ("to", "smtp_conn_id")

    def __init__(
        self,
        *,
        to: Sequence[str],
        smtp_conn_id: str | None = None,
        from_email: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not to:
            raise ValueError("EmailAlertNotifier needs at least one address")
        self.to = list(to)
        self.smtp_conn_id = smtp_conn_id
        self.from_email = from_email

    def notify(self, context: Any) -> None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        payload = alert_payload(context, task_secrets(context))
        subject = f"courtflow task failed: {payload['dag_id']}.{payload['task_id']}"
        # Called directly, after redaction: SmtpNotifier would otherwise render the
        # subject and body as Jinja templates.
        smtp = SmtpNotifier(
            to=self.to, from_email=self.from_email, subject=subject,
            html_content=alert_html(payload), smtp_conn_id=self.smtp_conn_id,
        )  # fmt: skip
        smtp.notify(context)
        self.log.info("failure alert e-mailed to %d address(es)", len(self.to))


def failure_notifiers(
    *,
    webhook_url: str | None = None,
    webhook_conn_id: str | None = None,
    slack_webhook_conn_id: str | None = None,
    slack_conn_id: str | None = None,
    slack_channel: str | None = None,
    email: Sequence[str] = (),
    smtp_conn_id: str | None = None,
    email_from: str | None = None,
) -> list[BaseNotifier]:
    """The notifiers configured, for ``on_failure_callback`` (empty: no alerts)."""
    notifiers: list[BaseNotifier] = []
    if webhook_url or webhook_conn_id:
        notifiers.append(WebhookNotifier(url=webhook_url, webhook_conn_id=webhook_conn_id))
    if slack_webhook_conn_id or slack_conn_id:
        notifiers.append(SlackAlertNotifier(
            slack_webhook_conn_id=slack_webhook_conn_id, slack_conn_id=slack_conn_id,
            channel=slack_channel,
        ))  # fmt: skip
    if email:
        notifiers.append(EmailAlertNotifier(
            to=email, smtp_conn_id=smtp_conn_id, from_email=email_from))  # fmt: skip
    return notifiers
