"""Access and promotion wrappers of the Python client, without a server: roles and bindings become
RoleGrants, listings go page by page with their filters, promotion decisions name the endpoint and
the canary version in full, and malformed arguments raise SluiceArgumentError before a call.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import unittest
from datetime import datetime, timezone
from typing import Any

from sluice import SluiceArgumentError, SluiceClient
from sluice.v1 import access_pb2, model_pb2
from stubs import Recorder

AT = datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)
ENDPOINT = "projects/shop/endpoints/churn"


class Calls(unittest.TestCase):
    def setUp(self) -> None:
        # Nothing listens there; the channel connects lazily and no call gets through.
        self.client = SluiceClient("127.0.0.1:1", project="shop")
        self.addCleanup(self.client.close)

    def refused(self, call: Any) -> list[str]:
        with self.assertRaises(SluiceArgumentError) as caught:
            call()
        return [violation.field for violation in caught.exception.field_violations]


class RoleBindings(Calls):
    def test_grant_and_revoke(self) -> None:
        binding = access_pb2.RoleBinding(principal="alice@example.com", role=access_pb2.RoleGrant(project="shop", role="deployer"))
        self.client.access = Recorder(access_pb2.GrantRoleResponse(binding=binding), access_pb2.RevokeRoleResponse())
        self.assertEqual(self.client.grant_role("alice@example.com", "shop:deployer"), binding)
        self.assertIsNone(self.client.revoke_role("alice@example.com", access_pb2.RoleGrant(project="*", role="admin")))
        granted, revoked = self.client.access.requests
        self.assertEqual(granted, access_pb2.GrantRoleRequest(binding=binding))
        self.assertEqual((revoked.binding.principal, revoked.binding.role.project, revoked.binding.role.role), ("alice@example.com", "*", "admin"))

    def test_refused_before_a_call(self) -> None:
        self.client.access = Recorder(access_pb2.GrantRoleResponse())
        self.assertEqual(self.refused(lambda: self.client.grant_role("", "shop:viewer")), ["principal"])
        self.assertEqual(self.refused(lambda: self.client.revoke_role("alice", "viewer")), ["role"])
        self.assertEqual(self.client.access.requests, [])

    def test_list_page_by_page(self) -> None:
        self.client.access = Recorder(
            access_pb2.ListRoleBindingsResponse(bindings=[access_pb2.RoleBinding(principal="a")], next_page_token="next"),
            access_pb2.ListRoleBindingsResponse(bindings=[access_pb2.RoleBinding(principal="b")]),
        )
        self.assertEqual([b.principal for b in self.client.list_role_bindings(page_size=1)], ["a", "b"])
        list(self.client.list_role_bindings(project="projects/ml"))
        list(self.client.list_role_bindings(project="*"))
        self.assertEqual(
            [(r.project, r.page_size, r.page_token) for r in self.client.access.requests],
            [("shop", 1, ""), ("shop", 1, "next"), ("ml", 0, ""), ("*", 0, "")],
        )


class AuditTrail(Calls):
    def test_events_with_every_filter_page_by_page(self) -> None:
        self.client.access = Recorder(
            access_pb2.ListAuditEventsResponse(events=[access_pb2.AuditEvent(sequence=2)], next_page_token="p2"),
            access_pb2.ListAuditEventsResponse(events=[access_pb2.AuditEvent(sequence=1)]),
        )
        events = self.client.list_audit_events(
            principal="alice", method="/sluice.v1.ModelService/", outcome="PERMISSION_DENIED", start_time=AT, end_time=AT, page_size=1
        )
        self.assertEqual([e.sequence for e in events], [2, 1])
        first, second = self.client.access.requests
        self.assertEqual(
            (first.project, first.principal, first.method, first.outcome, first.page_size, first.page_token),
            ("shop", "alice", "/sluice.v1.ModelService/", "PERMISSION_DENIED", 1, ""),
        )
        self.assertEqual((first.start_time.seconds, first.start_time.nanos), (int(AT.timestamp()), 500_000_000))
        self.assertEqual(first.end_time, first.start_time)
        self.assertEqual((second.page_token, second.principal), ("p2", "alice"))

    def test_another_project_or_every_one_unfiltered(self) -> None:
        self.client.access = Recorder(access_pb2.ListAuditEventsResponse())
        list(self.client.list_audit_events(project="projects/ml"))
        list(self.client.list_audit_events(all_projects=True))
        first, second = self.client.access.requests
        self.assertEqual((first.project, second.project), ("ml", ""))
        self.assertEqual(second, access_pb2.ListAuditEventsRequest())
        self.assertEqual(self.refused(lambda: list(self.client.list_audit_events(project="ml", all_projects=True))), ["all_projects"])

    def test_verify_every_chain_or_one(self) -> None:
        verdict = access_pb2.AuditChainVerdict(chain_id="sluice-0", records=12, intact=True)
        self.client.access = Recorder(access_pb2.VerifyAuditChainResponse(chains=[verdict], intact=True))
        self.assertTrue(self.client.verify_audit_chain().intact)
        self.client.verify_audit_chain("sluice-0")
        self.assertEqual([r.chain_id for r in self.client.access.requests], ["", "sluice-0"])


class Promotions(Calls):
    def test_deployment_requiring_approval(self) -> None:
        self.client.models = Recorder(model_pb2.ApplyDeploymentResponse())
        self.client.apply_deployment("churn", "churn@1", ("churn@2", 10))
        self.client.apply_deployment("churn", "churn@1", ("churn@2", 10), require_promotion_approval=True)
        self.assertEqual([r.deployment.require_promotion_approval for r in self.client.models.requests], [False, True])

    def test_promote_canary_returns_the_pending_promotion_on_the_deployment(self) -> None:
        pending = model_pb2.PromotionRequest(canary_version="projects/shop/models/churn/versions/2", requested_by="alice", revision=3)
        self.client.models = Recorder(
            model_pb2.PromoteCanaryResponse(deployment=model_pb2.Deployment(name=ENDPOINT, revision=3), pending_promotion=pending),
            model_pb2.PromoteCanaryResponse(deployment=model_pb2.Deployment(name=ENDPOINT, revision=4)),
        )
        requested = self.client.promote_canary("churn", reason="v2 did well")
        self.assertEqual((requested.revision, requested.pending_promotion), (3, pending))
        promoted = self.client.promote_canary(ENDPOINT, actor="carol")
        self.assertEqual((promoted.revision, promoted.HasField("pending_promotion")), (4, False))
        self.assertEqual(
            [(r.name, r.actor, r.reason) for r in self.client.models.requests],
            [(ENDPOINT, "", "v2 did well"), (ENDPOINT, "carol", "")],
        )

    def test_approve_reject_and_roll_back(self) -> None:
        self.client.models = Recorder(model_pb2.ApprovePromotionResponse(deployment=model_pb2.Deployment(name=ENDPOINT, revision=4)))
        self.assertEqual(self.client.approve_promotion("churn", reason="looked at the report", canary_version="churn@2").revision, 4)
        self.client.approve_promotion("projects/ml/endpoints/fraud")
        self.assertEqual(
            list(self.client.models.requests),
            [
                model_pb2.ApprovePromotionRequest(
                    name=ENDPOINT, reason="looked at the report", canary_version="projects/shop/models/churn/versions/2"
                ),
                model_pb2.ApprovePromotionRequest(name="projects/ml/endpoints/fraud"),
            ],
        )
        self.client.models = Recorder(model_pb2.RejectPromotionResponse(), model_pb2.RollbackDeploymentResponse())
        self.client.reject_promotion("churn", canary_version="projects/shop/models/churn/versions/2")
        self.client.rollback_deployment("churn", reason="complaints")
        rejected, rolled_back = self.client.models.requests
        self.assertEqual(rejected, model_pb2.RejectPromotionRequest(name=ENDPOINT, canary_version="projects/shop/models/churn/versions/2"))
        self.assertEqual(rolled_back, model_pb2.RollbackDeploymentRequest(name=ENDPOINT, reason="complaints"))

    def test_a_canary_version_needs_its_version(self) -> None:
        self.client.models = Recorder(model_pb2.ApprovePromotionResponse())
        self.assertEqual(self.refused(lambda: self.client.approve_promotion("churn", canary_version="churn")), ["canary_version"])
        self.assertEqual(self.refused(lambda: self.client.reject_promotion("Bad-Name")), ["endpoint"])
        self.assertEqual(self.client.models.requests, [])


if __name__ == "__main__":
    unittest.main()
