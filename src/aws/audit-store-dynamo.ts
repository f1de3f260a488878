/**
 * The audit store on the `ima-tpm-audit-log` DynamoDB table (issue 7 §2): partition `chain` (S),
 * sort `seq` (N); appends are conditional puts, so two writers cannot fork a chain.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AUDIT_KEY, TableAuditStore } from '../audit/audit-store.js';
import { DEFAULT_TABLES } from '../protocol/records.js';
import { DynamoTable } from './dynamo-table.js';

export function dynamoAuditStore(client: DynamoDBClient, tableName: string = DEFAULT_TABLES.audit): TableAuditStore {
  return new TableAuditStore(new DynamoTable(client, tableName, AUDIT_KEY));
}
