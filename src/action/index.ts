import { shedSecretsFromEnvironment } from '../secrets/shed-secrets.js';
import { run } from './main.js';

shedSecretsFromEnvironment();
void run();
