"""moto_server with IAM enforcement that also matches Resource for DynamoDB, Secrets Manager and KMS.

Started by test/helpers/moto.ts (startMoto({ iam: true })) with the same arguments as moto_server.
moto 5.2.1 checks a caller's identity policies (Action, Allow/Deny) for every service once
INITIAL_NO_AUTH_ACTION_COUNT requests have passed, but it matches the policy's Resource against
the ARN of the addressed resource only for SQS, IAM and STS; for every other service it matches
against "*", so a policy scoped to a table or a secret ARN would deny everything there. This
wrapper gives moto's own evaluator (moto/iam/access_control.py, unchanged) the ARN each
DynamoDB, Secrets Manager and KMS request addresses, through the `_determine_resource` hook that
moto's SQS, IAM and STS handlers already implement. Nothing else is changed: conditions and
resource-based policies (key policies, secret policies) are still not evaluated by moto.

S3 (issue 14, the checkpoint bucket): moto matches S3 resources itself (bucket and object ARNs),
but its SigV4 check of S3 requests computes another canonical request than the SDK for a
ListObjectsV2 whose prefix holds "/" (measured: prefix=checkpoints%2Fiam-test%2F is refused with
SignatureDoesNotMatch, the same request without "/" passes). The wrapper skips the S3 signature
comparison only; the access key in the Authorization header still selects the caller and its
policies, and every other service's signature is still checked.
"""
import sys

from moto.dynamodb.responses import DynamoHandler
from moto.iam.access_control import S3IAMRequest
from moto.kms.responses import KmsResponse
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import main
from moto.utilities.utils import get_partition


def _dynamodb_resource(self) -> str:
    try:
        name = (getattr(self, "params", None) or {}).get("TableName")
        if not isinstance(name, str) or not name:
            return "*"  # batch and transact calls name several tables; ima-qs sends none
        if name.startswith("arn:"):
            return name
        return f"arn:{get_partition(self.region)}:dynamodb:{self.region}:{self.current_account}:table/{name}"
    except Exception:  # never break a request: "*" is moto's own default
        return "*"


def _secretsmanager_resource(self) -> str:
    try:
        secret_id = self._get_param("SecretId")
        if not isinstance(secret_id, str) or not secret_id:
            return "*"
        return self.backend.describe_secret(secret_id).arn
    except Exception:  # unknown secret: moto answers ResourceNotFound after the check
        return "*"


def _kms_resource(self) -> str:
    try:
        key_id = self._get_param("KeyId")
        if not isinstance(key_id, str) or not key_id:
            return "*"
        return self.kms_backend.describe_key(key_id).arn
    except Exception:
        return "*"


def _s3_signature_not_compared(self) -> None:
    return None


S3IAMRequest.check_signature = _s3_signature_not_compared
DynamoHandler._determine_resource = _dynamodb_resource
SecretsManagerResponse._determine_resource = _secretsmanager_resource
KmsResponse._determine_resource = _kms_resource

if __name__ == "__main__":
    main(sys.argv[1:])
