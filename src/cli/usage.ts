import { TOOL_NAME } from '../constants.js';

export const USAGE = `Usage:
  ${TOOL_NAME} verify <record>... [--json FILE] [--markdown FILE] [--python PATH] [--evidence-dir DIR] [--keep-artifacts]
  ${TOOL_NAME} record --artifact PATH... [--metrics FILE] [--data PATH[=MANIFEST]...] [--config PATH...]
                     [--requirements FILE] [--seed NAME=VALUE...] [--var NAME=VALUE...] [--name NAME]
                     [--out run.yaml] [--timeout 60m] [--python PATH] -- <command...>
  ${TOOL_NAME} merge <report.json|folder>... [--expect RECORD]... [--json FILE] [--markdown FILE]
  ${TOOL_NAME} discover <record>...

Exit status: 0 reproduced or within tolerance, 1 drift, 2 error or usage error.`;

export const USAGE_HINT = `Run \`${TOOL_NAME} --help\` for usage.`;
