"""What every emulator of one sandbox app shares: configuration, state, faults, the request
log and the id_token signing key. Built once by ``create_sandbox_app``."""

from __future__ import annotations

from dataclasses import dataclass

from .config import SandboxConfig
from .faults import FaultRegistry
from .push import PushSender
from .request_log import RequestLog
from .signing import SigningKey
from .state import SandboxState


@dataclass
class SandboxContext:
    config: SandboxConfig
    state: SandboxState
    faults: FaultRegistry
    requests: RequestLog
    signing_key: SigningKey
    push: PushSender

    @classmethod
    def create(cls, config: SandboxConfig) -> "SandboxContext":
        return cls(
            config=config,
            state=SandboxState(),
            faults=FaultRegistry(),
            requests=RequestLog(config.request_log_limit),
            signing_key=SigningKey(),
            push=PushSender(config.clock, config.sleep),
        )

    def now(self) -> float:
        return self.config.clock()
