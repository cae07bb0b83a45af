"""The relay backend (API.md §2): `GET RPA_RELAY_URL?...&target=START|ALL` through `jobs.backends.relay_protocol`,
which keeps the timeouts, the single retry of a refused connection and the URL masking."""

from __future__ import annotations

from jobs.backends import DispatchOutcome, ensure_outside_transaction
from jobs.backends import relay_protocol as relay


class RelayBackend:
    name = "relay"

    def is_configured(self) -> bool:
        return relay.is_configured()

    def start(self, job) -> DispatchOutcome:
        return self._send(job, relay.START)

    def stop(self, job) -> DispatchOutcome:
        return self._send(job, relay.STOP)

    def _send(self, job, target: str) -> DispatchOutcome:
        ensure_outside_transaction()
        account = job.account
        try:
            result = relay.send(
                backend_ip=account.host_ip, backend_port=account.port, app_name=job.app_name, target=target
            )
        except relay.RelayError as exc:
            return DispatchOutcome(
                ok=False,
                message=f"relay request failed: {exc.reason}",
                response_status=exc.status,
                error=exc.reason,
                latency_ms=exc.latency_ms,
                may_have_reached=exc.may_have_reached,
                url=exc.url,
            )
        return DispatchOutcome(
            ok=True,
            message=f"{target} request sent to the relay",
            response_status=result.status,
            latency_ms=result.latency_ms,
            url=result.url,
        )


backend = RelayBackend()
