/**
 * The rollout checklist: the seed's "Integration Checklist" (Pre-Deployment, Day 1 … Day 5) as
 * data, corrected where DESIGN.md corrects the seed:
 *  - no liboqs and no Docker build for the Lambda: the crypto is @noble/* + node:crypto, bundled by
 *    `ima-qs package lambda`; the worker image comes from `ima-qs package worker`;
 *  - Fargate has no TPM (NitroTPM is EC2-only): the audit anchor is an explicit choice (Day 0);
 *  - the seed's "+28 ms" latency and "256-bit" claims are not targets; p99 < 550 ms is.
 * Items are `auto` (checked against the account by checks.ts) or `manual` (confirmed by a person).
 */
import {
  type CheckContext,
  type CheckOutcome,
  checkApiKeys,
  checkCallerIdentity,
  checkDlqEmpty,
  checkKmsKey,
  checkLambda,
  checkLoadTest,
  checkLogGroups,
  checkLogsClean,
  checkQueue,
  checkSecrets,
  checkStoredSignatures,
  checkTables,
  checkUnauthenticatedRefused,
  checkWorker,
} from './checks.js';
import { checkAlarms } from './checks-alarms.js';

export interface ChecklistItem {
  /** stable id, `d<day>.<slug>` */
  id: string;
  day: number;
  title: string;
  kind: 'auto' | 'manual';
  check?: (ctx: CheckContext) => Promise<CheckOutcome>;
  /** what to do when it fails or is pending */
  hint: string;
}

export interface Capabilities {
  /** stored decision / audit signatures can be verified in this build */
  storedSignatures: boolean;
}

export const DAY_TITLES = ['Pre-deployment', 'Key generation', 'Lambda proxy', 'Worker', 'Testing & launch', 'Go-live'] as const;
export const LAST_DAY = DAY_TITLES.length - 1;

type Spec = Omit<ChecklistItem, 'day'>;

function auto(id: string, title: string, check: ChecklistItem['check'], hint: string): Spec {
  return { id, title, kind: 'auto', check, hint };
}
function manual(id: string, title: string, hint: string): Spec {
  return { id, title, kind: 'manual', hint };
}

export function buildChecklist(caps: Capabilities): ChecklistItem[] {
  const days: Spec[][] = [
    [
      manual('d0.plan-reviewed', 'Review the rollout plan and DESIGN.md (its corrections to the seed)', 'read DESIGN.md "Corrections to the seed" and infra/README.md'),
      auto('d0.caller-identity', 'AWS credentials work (sts get-caller-identity)', checkCallerIdentity, 'configure credentials (aws sso login, --profile NAME) and --region'),
      manual('d0.terraform-state', 'Terraform state is the one you mean to change (terraform state list)', 'run: terraform -chdir=infra state list; then terraform -chdir=infra output -json > outputs.json and pass --tf-outputs outputs.json'),
      manual('d0.audit-anchor', 'Audit anchor chosen: ECS on EC2 with NitroTPM (audit_anchor=tpm) or none-explicit — Fargate has no TPM', 'set audit_anchor and worker_launch_type in Terraform (DESIGN.md "Facts that change the design")'),
    ],
    [
      manual('d1.keys-generated', 'Keys generated on a secure machine (ima-qs keys generate)', 'run: ima-qs keys generate --out quantum_keys (on the machine that keeps the private keys)'),
      auto('d1.kms-key', 'KMS key alias/ima-quantum enabled, customer managed, rotation on', checkKmsKey, 'terraform apply creates it; re-enable with aws kms enable-key, turn on rotation with aws kms enable-key-rotation'),
      auto('d1.keys-uploaded', 'The key-set secret holds the generation under the KMS key (metadata only)', checkSecrets, 'run: ima-qs keys upload --keys quantum_keys --kms-key alias/ima-quantum; compare with --keys DIR or --pin FINGERPRINT'),
      auto('d1.tables', 'DynamoDB tables with PITR and SSE-KMS; TTL on the requests table', checkTables, 'run: terraform -chdir=infra apply -var quantum_safe_enabled=true'),
      auto('d1.queue', 'SQS request queue with a dead-letter queue (redrive) and SSE', checkQueue, 'run: terraform -chdir=infra apply -var quantum_safe_enabled=true'),
      auto('d1.log-groups', 'CloudWatch log groups exist with a retention', checkLogGroups, 'run: terraform -chdir=infra apply (log groups are created before the services write to them)'),
      manual('d1.iam-policies', 'IAM policies attached: Lambda and worker roles least-privilege (no * actions)', 'review role_arns from terraform output against infra/README.md "Who may do what"; attach key_operator_policy_arn to the key operators'),
    ],
    [
      manual('d2.lambda-bundle', 'Proxy bundle built: ima-qs package lambda (no liboqs, no Docker: @noble + node:crypto)', 'run: ima-qs package lambda -o dist/lambda.zip, then terraform apply -var lambda_zip_path=dist/lambda.zip'),
      auto('d2.lambda-deployed', 'Lambda proxy deployed: Active, Node runtime, alias on a published version', checkLambda, 'deploy with terraform apply; publish a version and point the alias at it (rollback needs versions)'),
      auto('d2.api-keys', 'GET /api/keys answers with a document certified by the pinned root', checkApiKeys, 'check the proxy URL (terraform output api_endpoint) and that the public-keys document was published (ima-qs keys upload); pass --pin FINGERPRINT and --token (or IMA_QS_TOKEN)'),
      manual('d2.local-roundtrip', 'A sealed request round trip works locally (ima-qs local up + request analyze)', 'run: ima-qs local up, then ima-qs request analyze FILE --endpoint http://127.0.0.1:PORT'),
    ],
    [
      manual('d3.worker-image', 'Worker image built (ima-qs package worker, no liboqs) and pushed to ECR', 'run: ima-qs package worker -o dist/worker; docker build/push; terraform apply -var worker_image=…'),
      auto('d3.worker-running', 'Worker ECS service running (desired > 0, running > 0)', checkWorker, 'check the service events: aws ecs describe-services --cluster … --services …'),
      manual('d3.worker-logs', 'Worker logs show requests opened, votes signed and the audit anchor it uses', 'read the worker log group; on Fargate (audit_anchor = none-explicit) every anchor must be labelled simulated: true (no TPM)'),
      caps.storedSignatures
        ? auto('d3.decisions-signed', 'Recent stored entries carry valid ML-DSA-87 signatures', checkStoredSignatures, 'send a request (ima-qs request analyze), then run this day again; an invalid signature means the worker signs with another key than the pinned one')
        : manual('d3.decisions-signed', 'Recent decisions carry valid ML-DSA-87 signatures (MANUAL: no stored-signature verifier in this build)', 'fetch a response and run: ima-qs verify response.json --pin FINGERPRINT'),
    ],
    [
      manual('d4.client-library', 'Client library deployed to the frontend', 'ship the client with the pinned root fingerprint'),
      manual('d4.browser-verify', 'Response verification tested in a browser (and a tampered response rejected)', 'verify a response in the browser client; cross-check with ima-qs verify response.json'),
      auto(
        'd4.unauthenticated-refused',
        'An unauthenticated call to the deployed proxy is refused (GET /api/keys and POST /api/analyze: 401/403)',
        checkUnauthenticatedRefused,
        'the proxy must authenticate callers: terraform apply with api_jwt_issuer and api_jwt_audiences (infra/api.tf), never a public function URL; then run day 4 again with --token (or IMA_QS_TOKEN)',
      ),
      // the seed asks for 100 users; the bounded default run is 60 s (--load-duration 300 for its 5 min)
      auto(
        'd4.load-test',
        'Bounded load test against the proxy URL (100 users, 60 s, 1 s think time): 0 errors, service p99 < 550 ms',
        checkLoadTest,
        'p99 over budget: scale the worker (ECS desired count, task CPU: signing is the cost) and the proxy (Lambda memory, reserved concurrency); errors: read the Lambda and worker log groups (HTTP_429/503: throttling; TIMEOUT: the service stalled past --load-timeout in the step named); then run day 4 again (--load-users/--load-duration/--load-think/--load-max-requests/--load-timeout set the bounds)',
      ),
      auto('d4.no-key-material-in-logs', 'No PEM or key material in the CloudWatch log groups', checkLogsClean, 'find the log line, remove its source, rotate the keys (ima-qs keys rotate) and delete the log stream'),
      manual('d4.enable-production', 'Quantum-safe enabled in production (terraform apply -var quantum_safe_enabled=true)', 'apply in the production workspace'),
    ],
    [
      auto('d5.dlq-empty', 'No failed requests in the dead-letter queue', checkDlqEmpty, 'read the messages in the DLQ (they are sealed: inspect the worker logs by request id) and fix the cause'),
      auto(
        'd5.alarms-ok',
        'The CloudWatch alarms are OK (DLQ, oldest message, unanchored entries, proxy 5xx/errors/throttles, worker at max) and notify someone',
        checkAlarms,
        'ALARM: its description says what it watches (infra/README.md, Alarms); not found: terraform apply (infra/alarms.tf) or --tf-outputs outputs.json; INSUFFICIENT_DATA: wait for the first evaluation (1-15 min) and run day 5 again; no action: set alarm_sns_topic_arn',
      ),
      manual('d5.error-rates', 'Error rates monitored (target 0 %: Lambda errors, worker failures)', 'the proxy-5xx, proxy-errors and dlq-not-empty alarms (d5.alarms-ok) notify the alarm_sns_topic_arn topic; also watch the worker log group'),
      manual('d5.latency', 'Latency monitored (p99 within the 550 ms budget)', 'watch the Lambda Duration metric and the worker stage timings'),
      manual('d5.signature-failures', 'Client-side signature verification failures monitored (target 0)', 'collect verification failures from the client library'),
      manual('d5.customer-request', 'A real customer request answered and verified', 'run: ima-qs request analyze FILE --endpoint URL and ima-qs verify response.json'),
      manual('d5.announcement', 'Launch announced', 'announce the launch'),
    ],
  ];
  return days.flatMap((items, day) => items.map((it) => ({ ...it, day })));
}

export function itemsOfDay(list: ChecklistItem[], day: number): ChecklistItem[] {
  return list.filter((i) => i.day === day);
}
