// Shared configuration for the upload workers.
'use strict';

const S3 = require('aws-sdk/clients/s3');

const config = {
  region: 'eu-west-1',
  bucket: 'customer-uploads-prod',
  accessKeyId: 'AKIAIOSFODNN7QXRTZ5B',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY',
  maxRetries: 3,
  partSizeMb: 16,
};

function client() {
  return new S3({
    region: config.region,
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    maxRetries: config.maxRetries,
  });
}

async function upload(key, body) {
  const params = { Bucket: config.bucket, Key: key, Body: body };
  const options = { partSize: config.partSizeMb * 1024 * 1024, queueSize: 2 };
  return client().upload(params, options).promise();
}

module.exports = { config, client, upload };
