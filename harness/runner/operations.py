"""Which operations of the LPS test agent contract each action calls.

A case's needs include the operations of its actions, so a protocol cannot forget one: a
SUT that declares its operations gets a case that calls anything else as not in scope.
Operation names are the contract's operationIds (`harness/contract/lps-test-agent-api.yaml`).
"""

from __future__ import annotations

from harness.model.protocol import Action
from harness.sut.contract import operation_at

# Actions whose operations do not depend on their parameters.
ACTION_OPERATIONS: dict[str, tuple[str, ...]] = {
    "send-message": ("processMessage",),
    "resend": ("processMessage",),
    "send-raw": ("processMessage",),
    "read-received": ("listReceivedMessages",),
    "reset": ("reset",),
    "share-plan": ("sharePlan",),
    "fetch-shared": (),  # kcert's viewer and kcert's repository: nothing of the SUT
    "send-qrd": ("receiveDocument",),
    "read-plan": ("readPlan",),
    "load-population": ("loadPopulation",),
    "read-profiles": ("listProfiles",),
    "read-members": ("listProfileMembers",),
    "follow-links": ("readPlan",),  # a member row's deep link opens the patient's plan
    "read-plans": ("readPlan",),
    "trigger-send": ("sendMessage",),
    "trigger-retry": ("fireResendTimer",),
    "read-outbox": ("readOutbox",),
}
# Actions that name their target: the operation comes from the path they call.
BY_PATH = {"agent-get": "GET", "agent-post": "POST"}


def action_operations(action: Action) -> tuple[str, ...]:
    """The operations one action calls; unknown actions call none kcert can name."""
    if action.kind in ACTION_OPERATIONS:
        return ACTION_OPERATIONS[action.kind]
    if action.kind in BY_PATH:
        op = operation_at(BY_PATH[action.kind], str(action.params.get("path", "")))
        return (op,) if op else ()
    if action.kind == "contract-fuzz":
        found = []
        for text in action.params.get("operations", []):
            method, _, path = str(text).partition(" ")
            op = operation_at(method, path.strip())
            if op:
                found.append(op)
        return tuple(dict.fromkeys(found))
    return ()
