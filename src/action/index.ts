import { preferSmallHeap } from '../heap-policy.js';
import { shedSecretsFromEnvironment } from '../secrets/shed-secrets.js';
import { run } from './main.js';

shedSecretsFromEnvironment();
preferSmallHeap();
void run();
