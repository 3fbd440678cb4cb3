#!/usr/bin/env node
import { preferSmallHeap } from '../heap-policy.js';
import { shedSecretsFromEnvironment } from '../secrets/shed-secrets.js';
import { main } from './main.js';

shedSecretsFromEnvironment();
preferSmallHeap();
void main(process.argv.slice(2), process.stdout, process.stderr).then((status) => {
  process.exitCode = status;
});
