// The evaluator the IAM tests rely on where moto does not evaluate (test/helpers/policy-eval.ts):
// its semantics, one row per rule of the IAM User Guide it implements, and its refusals.
import { describe, expect, it } from 'vitest';
import { evaluate, type EvalRequest } from '../../helpers/policy-eval.js';
import type { PolicyJson, PolicyStatement } from '../../helpers/policy-render.js';

const policy = (...Statement: PolicyStatement[]): PolicyJson => ({ Version: '2012-10-17', Statement });
const allow = (extra: Partial<PolicyStatement> = {}): PolicyStatement => ({ Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: ['arn:aws:dynamodb:eu-west-1:1:table/t'], ...extra });
const req = (context: EvalRequest['context'] = {}, over: Partial<EvalRequest> = {}): EvalRequest => ({ action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:eu-west-1:1:table/t', context, ...over });

describe('policy-eval', () => {
  it.each([
    ['an allowed action and resource', policy(allow()), req(), 'allow'],
    ['no statement applies', policy(allow({ Action: ['dynamodb:GetItem'] })), req(), 'implicit-deny'],
    ['another resource', policy(allow()), req({}, { resource: 'arn:aws:dynamodb:eu-west-1:1:table/u' }), 'implicit-deny'],
    ['actions match case-insensitively with wildcards', policy(allow({ Action: ['DynamoDB:Put*'] })), req(), 'allow'],
    ['an explicit Deny wins over an Allow', policy(allow(), { ...allow(), Effect: 'Deny' }), req(), 'explicit-deny'],
    ['StringEquals on a missing key is false', policy(allow({ Condition: { StringEquals: { 'kms:ViaService': ['sqs.x'] } } })), req(), 'implicit-deny'],
    ['StringEqualsIfExists on a missing key is true', policy(allow({ Condition: { StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE'] } } })), req(), 'allow'],
    ['StringEqualsIfExists on a present key compares', policy(allow({ Condition: { StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE'] } } })), req({ 'dynamodb:ReturnValues': 'ALL_OLD' }), 'implicit-deny'],
    ['ArnNotEquals on a missing key is true (negated operator)', policy({ ...allow(), Effect: 'Deny', Condition: { ArnNotEquals: { 'aws:PrincipalArn': ['arn:r'] } } }), req(), 'explicit-deny'],
    ['ArnNotEquals with the named principal is false', policy(allow(), { ...allow(), Effect: 'Deny', Condition: { ArnNotEquals: { 'aws:PrincipalArn': ['arn:r'] } } }), req({ 'aws:PrincipalArn': 'arn:r' }), 'allow'],
    ['ForAllValues: every value in the list', policy(allow({ Condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['a', 'b'] } } })), req({ 'dynamodb:Attributes': ['a', 'b'] }), 'allow'],
    ['ForAllValues: one value outside the list', policy(allow({ Condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['a', 'b'] } } })), req({ 'dynamodb:Attributes': ['a', 'c'] }), 'implicit-deny'],
    ['ForAllValues over a missing key is true', policy(allow({ Condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['a'] } } })), req(), 'allow'],
    ['ForAllValues:StringLike with a prefix', policy(allow({ Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['req#*'] } } })), req({ 'dynamodb:LeadingKeys': ['rid#x'] }), 'implicit-deny'],
    ['ForAnyValue over a missing key is false', policy(allow({ Condition: { 'ForAnyValue:StringEquals': { 'dynamodb:Attributes': ['a'] } } })), req(), 'implicit-deny'],
    ['Bool compares true/false', policy(allow({ Condition: { Bool: { 'aws:MultiFactorAuthPresent': ['true'] } } })), req({ 'aws:MultiFactorAuthPresent': false }), 'implicit-deny'],
    ['conditions are ANDed', policy(allow({ Condition: { StringEquals: { a: ['1'], b: ['2'] } } })), req({ a: '1', b: '3' }), 'implicit-deny'],
    ['a resource policy needs a matching principal', policy(allow({ Principal: { AWS: ['arn:aws:iam::1:role/w'] } })), req({}, { principal: { aws: 'arn:aws:iam::1:role/p' } }), 'implicit-deny'],
    ['Principal AWS "*" is everyone', policy(allow({ Principal: { AWS: ['*'] } })), req({}, { principal: { aws: 'arn:aws:iam::1:role/p' } }), 'allow'],
  ] as const)('%s', (_, p, r, want) => {
    expect(evaluate(p, r)).toBe(want);
  });

  it('refuses an operator it does not implement (never a silent true)', () => {
    expect(() => evaluate(policy(allow({ Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': ['3600'] } } })), req({ 'aws:MultiFactorAuthAge': '10' }))).toThrow(/not supported/);
  });

  it('refuses a multivalued key under a single-valued operator', () => {
    expect(() => evaluate(policy(allow({ Condition: { StringEquals: { 'dynamodb:Attributes': ['a'] } } })), req({ 'dynamodb:Attributes': ['a'] }))).toThrow(/multivalued/);
  });
});
